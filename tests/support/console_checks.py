"""Checks run inside the console's page: axe-core (vendored under tests/support/axe, MPL-2.0) and a walk of the
visible text for words left in English on a zh-CN page."""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).with_name("axe") / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

# Latin words a Chinese page may show: names of products, models, protocols and units that stay as they are.
# Quoted text (“…”, '…'), code, URLs, paths, file and host names, --options and elements marked translate="no"
# (model names, provider names, user texts) are skipped before this list is consulted.
ALLOWED_LATIN = {
    "bge-local", "bge-m3", "BGE", "M3", "BM25", "BAAI/bge-m3", "BAAI", "bge-reranker-v2-m3", "Dify", "RAGFlow",
    "ColBERT", "API", "URL", "UID", "ID", "GPU", "CPU", "HTTP", "curl", "logit", "p50", "p99", "TEI", "base64",
    "cl100k", "Docker", "Desktop", "Linux", "compose", "http", "https", "OpenAI", "OpenAI-API-Compatible",
    "OpenAI-API-compatible", "Ollama", "Cohere", "Xinference", "Xorbits", "LocalAI", "GPUStack", "VLLM",
    "HuggingFace", "Jina", "Inference", "Text", "Embedding", "plugin",  # the providers' own names in Dify
    "GiB",
    # the libraries and apps of the "other tools" rows: their own names
    "LangChain", "OpenAIEmbeddings", "CohereRerank", "LlamaIndex", "TextEmbeddingsInference", "JinaRerank",
    "Haystack", "HuggingFaceAPITextEmbedder", "HuggingFaceTEIRanker", "huggingface_hub", "InferenceClient",
    "LiteLLM", "openai", "cohere", "Open", "WebUI", "MaxKB", "vLLM",
}

UNTRANSLATED_JS = r"""
(allowed) => {
  const skip = "script, style, code, pre, textarea, input, option, q, [translate='no']";
  const found = [];
  const visible = (el) => el.checkVisibility ? el.checkVisibility() : el.offsetParent !== null;
  const check = (text, where) => {
    const stripped = text.replace(/“[^”]*”|‘[^’]*’|'[^']*'|"[^"]*"/g, " ");
    for (const raw of stripped.split(/[\s\u3000-\u303f\uff00-\uffef\u4e00-\u9fff·…→✔✘–—]+/)) {
      const token = raw.replace(/^[,;:()\[\]]+|[,;:()\[\]]+$/g, "");
      if (!/[A-Za-z]{2,}/.test(token)) continue;
      if (/[\/._:]|^-/.test(token)) continue;  // a path, URL, host, file name, identifier or --option
      const word = token.replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
      if (!allowed.includes(word)) found.push(`${word}  ←  ${where}: ${text.trim().slice(0, 120)}`);
    }
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(skip) || !visible(parent) || !node.textContent.trim()) continue;
    check(node.textContent, parent.tagName.toLowerCase() + (parent.id ? "#" + parent.id : ""));
  }
  for (const el of document.querySelectorAll("[aria-label]")) {
    if (visible(el)) check(el.getAttribute("aria-label"), `aria-label of ${el.tagName.toLowerCase()}`);
  }
  return found;
}
"""


def untranslated(page) -> list[str]:
    """Words of the visible page (text and aria-labels) that are Latin and not on the allow-list."""
    return page.evaluate(UNTRANSLATED_JS, sorted(ALLOWED_LATIN))


def axe_violations(page, impacts=("serious", "critical")) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations of the page as it is now, of the given impacts, one line per node."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text() + "\n;true")  # evaluated by the DevTools protocol: the page's CSP allows it
    results = page.evaluate("async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
                            ".violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
                            " nodes: v.nodes.map(n => n.target.join(' ') + ' — ' + n.failureSummary)}))", AXE_TAGS)
    return [f"{v['impact']} {v['id']} ({v['help']}): {node}" for v in results if v["impact"] in impacts
            for node in v["nodes"]]
