"""What to paste where: for each Dify plugin and each RAGFlow provider form, the URL that reaches bge-local.

One table of plain data, from which everything renders: ``bge-local doctor`` (marked with its checks), the
tables in README.md and docs/ragflow.md (generated: ``bge-local doctor --write-docs``; a
test fails when they drift), and the web UI's Connect panel. The API is small:

- ``rows(base_url, models=None) -> list[PasteRow]``, each with ``as_dict()`` giving ``{"app", "client", "form",
  "field", "url", "model", "key", "key_hint", "reaches", "versions", "note", "checks"}``;
- ``key_to_type(row.key, server_key)`` — what to type in the form's API-key field (None: that client cannot
  reach a server with a key).

Each value follows the client's own URL rule, read from its source: Dify's official plugins
(langgenius/dify-official-plugins) and RAGFlow's ``rag/llm/embedding_model.py`` / ``rerank_model.py`` at v0.24.0,
v0.26.4 and v0.27.0 (tests/support/clients.py replays each rule; tests/deploy/test_doctor_clients.py drives every
row at the URL doctor prints, for each RAGFlow release the row names).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from local_server.loopback import is_loopback_host

KEY_OPTIONAL = "optional"  # empty, or the server's key
KEY_REQUIRED = "required"  # the server's key; on a server without one any non-empty text such as x
KEY_NONE = "none"  # the client sends no usable key: only a server without a key works
NO_KEY_NOTE = "sends no usable API key: needs a server without one"
KEY_HINTS = {
    KEY_OPTIONAL: "the server's key, or empty",
    KEY_REQUIRED: "the server's key, or `x` if it has none",
    KEY_NONE: f"– ({NO_KEY_NOTE})",
}
RAGFLOW_RELEASES = ("0.24", "0.26", "0.27")  # 0.24–0.25, 0.26, 0.27 and main
DEFAULT_MODELS = {"embedding": "bge-m3", "reranker": "bge-reranker-v2-m3"}

_ROUTE_SUFFIXES = ("/v1/embeddings", "/v1/rerank", "/v1/score", "/v1/models", "/v2/rerank", "/embeddings", "/rerank",
                   "/embed", "/score", "/health", "/info", "/v1", "/v2")


@dataclass(frozen=True)
class PasteRow:
    app: str  # Dify | RAGFlow
    client: str  # the provider as the app names it
    form: str  # embedding | rerank
    field: str  # the form's URL field
    url: str | None  # what to paste; None: this client cannot be pointed at a self-hosted server
    model: str  # what to type as the model name (Xinference: the model uid)
    key: str  # KEY_OPTIONAL | KEY_REQUIRED | KEY_NONE
    reaches: str  # the route(s) the client then calls
    versions: tuple[str, ...] = ()  # RAGFlow releases this row holds for; () for Dify (its current plugins)
    note: str = ""
    checks: tuple[str, ...] = ()  # doctor checks that exercise those routes

    @property
    def key_hint(self) -> str:
        return KEY_HINTS[self.key]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "versions": list(self.versions), "checks": list(self.checks),
                "key_hint": self.key_hint}


def key_to_type(key: str, server_key: str | None) -> str | None:
    """What to type in the API-key field of a row's form, for a server with ``server_key`` (None: keyless)."""
    if key == KEY_NONE:
        return None if server_key else ""
    if server_key:
        return server_key
    return "x" if key == KEY_REQUIRED else ""


def normalise_url(url: str) -> str:
    """The server's root URL from whatever the user typed: scheme added, route and trailing slash dropped."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    url = url.rstrip("/")
    url = re.sub(r"/models/[^/]+$", "", url) if "/models/" in urlsplit(url).path else url
    changed = True
    while changed:
        changed = False
        for suffix in _ROUTE_SUFFIXES:
            if url.endswith(suffix) and urlsplit(url[: -len(suffix)]).netloc:
                url = url[: -len(suffix)].rstrip("/")
                changed = True
    return url


def is_loopback(url: str) -> bool:
    return is_loopback_host(urlsplit(url).hostname or "")


def rows(base_url: str, models: Mapping[str, str] | None = None) -> list[PasteRow]:
    """Every provider form, for a server whose root is ``base_url`` serving ``models`` (kind -> name).

    Behind a reverse proxy with a path prefix (``http://gw/bge``), RAGFlow's ``urljoin(url, "v1")`` (up to
    0.26) and its host-root rerank URLs would drop the prefix, so there those rows give forms that keep it."""
    u = normalise_url(base_url)
    parts = urlsplit(u)
    prefixed = bool(parts.path)
    names = {**DEFAULT_MODELS, **(models or {})}
    emb, rr = names["embedding"], names["reranker"]
    v1 = f"{u}/v1" if prefixed else u
    all_ = RAGFLOW_RELEASES
    trailing = "" if prefixed else f"{u}/v1 works too"
    dify = [
        ("bge-local plugin", "embedding", "Server URL", u, emb, KEY_OPTIONAL, "/v1/embeddings",
         "any URL form works", ("embeddings_float",)),
        ("bge-local plugin", "rerank", "Server URL", u, rr, KEY_OPTIONAL, "/v1/rerank", "", ("rerank_v1",)),
        ("OpenAI-API-compatible", "embedding", "API endpoint URL", f"{u}/v1", emb, KEY_OPTIONAL, "/v1/embeddings",
         "keep the /v1: the plugin appends only /embeddings", ("embeddings_float",)),
        ("OpenAI-API-compatible", "rerank", "API endpoint URL", u, rr, KEY_OPTIONAL, "/rerank",
         "…/v1 works too (/v1/rerank)", ("rerank_root",)),
        ("Text Embedding Inference", "embedding", "Server url", f"{u}/models/{emb}", emb, KEY_OPTIONAL,
         "/info, /v1/embeddings", "one URL per model: TEI's /info describes one model", ("tei_models",)),
        ("Text Embedding Inference", "rerank", "Server url", f"{u}/models/{rr}", rr, KEY_OPTIONAL,
         "/info, /rerank (TEI body)", "one URL per model: TEI's /info describes one model",
         ("tei_models", "tei_rerank")),
        ("Xorbits Inference", "embedding", "Server url", u, emb, KEY_OPTIONAL,
         "/v1/cluster/auth, /v1/models/…, /v1/embeddings", f"Model uid: {emb}", ("xinference",)),
        ("Xorbits Inference", "rerank", "Server url", u, rr, KEY_OPTIONAL,
         "/v1/cluster/auth, /v1/models/…, /v1/rerank", f"Model uid: {rr}", ("xinference", "rerank_v1")),
        ("Cohere", "embedding", "API Base URL", f"{u}/v1", emb, KEY_REQUIRED, "/v1/tokenize, /v1/embed",
         "a custom model; the API key field is required", ("cohere",)),
        ("Cohere", "rerank", "API Base URL", f"{u}/v1", rr, KEY_REQUIRED, "/v1/rerank",
         "a custom model; the API key field is required", ("rerank_v1",)),
        ("OpenAI", "embedding", "API Base URL", u, emb, KEY_REQUIRED, "/v1/embeddings (cl100k token ids)",
         "the plugin adds /v1; its token ids are decoded on the server, offline", ("token_ids",)),
        ("Ollama", "embedding", "Base URL", u, emb, KEY_OPTIONAL, "/api/embed", "", ("ollama",)),
        ("Ollama", "rerank", "Base URL", u, rr, KEY_OPTIONAL, "/api/rerank", "", ("rerank_root",)),
        ("GPUStack", "embedding", "Server URL", u, emb, KEY_REQUIRED, "/v1/embeddings", "", ("embeddings_float",)),
        ("GPUStack", "rerank", "Server URL", u, rr, KEY_REQUIRED, "/v1/rerank", "", ("rerank_v1",)),
    ]
    hostport = parts.netloc + parts.path
    ragflow = [
        ("OpenAI-API-Compatible", "embedding", v1, emb, KEY_REQUIRED, "/v1/embeddings",
         trailing + ("; up to 0.26 never …/v1/ (it becomes /v1/v1/embeddings, which bge-local answers too)"
                     if trailing else ""), ("embeddings_float",)),
        ("OpenAI-API-Compatible", "rerank", u, rr, KEY_REQUIRED, "/rerank",
         "0.24–0.25 rescale the scores min-max per query (a single document scores 0): prefer VLLM there; from "
         "0.26 the 0..1 scores pass unchanged", ("rerank_root",)),
        ("VLLM", "embedding", v1, emb, KEY_REQUIRED, "/v1/embeddings", trailing, ("embeddings_float",)),
        ("VLLM", "rerank", u, rr, KEY_REQUIRED, "/rerank (0.24–0.25), /v1/rerank (from 0.26)",
         "0..1 scores pass unchanged", ("rerank_root", "rerank_v1")),
        ("Xinference", "embedding", v1, emb, KEY_REQUIRED, "/v1/embeddings (base64)", "", ("embeddings_base64",)),
        ("Xinference", "rerank", f"{u}/v1/rerank" if prefixed else u, rr, KEY_REQUIRED, "/v1/rerank",
         "flags as strings, no top_n; the key x sends none", ("rerank_v1",)),
        ("LocalAI", "embedding", v1, emb, KEY_NONE, "/v1/embeddings (base64)", "its key is always 'empty'",
         ("embeddings_base64",)),
        ("LocalAI", "rerank", f"{u}/rerank" if prefixed else u, rr, KEY_REQUIRED, "/rerank", "", ("rerank_root",)),
        ("GPUStack", "embedding", v1, emb, KEY_REQUIRED, "/v1/embeddings", "", ("embeddings_float",)),
        ("GPUStack", "rerank", u, rr, KEY_REQUIRED, "/v1/rerank", "never …/v1: RAGFlow appends /v1/rerank itself",
         ("rerank_v1",)),
        ("HuggingFace", "embedding", u, emb, KEY_NONE, "/embed (TEI body)", "", ("tei_embed",)),
        ("HuggingFace", "rerank", hostport, rr, KEY_NONE, "/rerank (TEI body)",
         "no http:// (0.24–0.25 write http://<value>/rerank; from 0.26 either form)" if parts.scheme == "http"
         else "0.24–0.25 write http://<value>/rerank: give them a plain-http address", ("tei_rerank",)),
        ("Ollama", "embedding", u, emb, KEY_REQUIRED, "/api/embeddings (0.24–0.25), /api/embed (from 0.26)",
         "the key x sends none", ("ollama",)),
        ("Cohere", "rerank", u, rr, KEY_REQUIRED, "/rerank", "", ("rerank_root",)),
    ]
    out = [PasteRow("Dify", c, f, field, url, m, k, reaches, (), note, checks)
           for c, f, field, url, m, k, reaches, note, checks in dify]
    out += [PasteRow("RAGFlow", c, f, "Base url", url, m, k, reaches, all_, note, checks)
            for c, f, url, m, k, reaches, note, checks in ragflow]
    out += [
        PasteRow("RAGFlow", "Cohere", "embedding", "Base url", None, emb, KEY_REQUIRED, "api.cohere.com",
                 note="RAGFlow's Cohere embedding ignores the URL: use VLLM or OpenAI-API-Compatible"),
        PasteRow("RAGFlow", "Jina", "embedding", "Base url", None, emb, KEY_REQUIRED, "api.jina.ai",
                 note="RAGFlow's Jina provider ignores the URL: use VLLM or OpenAI-API-Compatible"),
    ]
    return out


# ---- Markdown, for README.md and docs/ragflow.md ------------------------------------------------------------------

EXAMPLE_URL = "http://HOST:8000"
_HEADINGS = {
    "Dify": "| Plugin | Model type | Paste into | Value | Model | API key | Requests go to | Notes |",
    "RAGFlow": "| Provider | Model type | Base url | Model name | API key | Requests go to | Notes |",
}


def markdown(app: str, base_url: str = EXAMPLE_URL) -> str:
    """One app's table as Markdown."""
    lines = [_HEADINGS[app], "|" + "---|" * (_HEADINGS[app].count("|") - 1)]
    for r in rows(base_url):
        if r.app != app:
            continue
        value = f"`{r.url}`" if r.url else "✘ not possible"
        key = r.key_hint if r.url else "–"
        if app == "Dify":
            lines.append(f"| {r.client} | {r.form} | {r.field} | {value} | `{r.model}` | {key} | {r.reaches} | "
                         f"{r.note} |")
        else:
            lines.append(f"| {r.client} | {r.form} | {value} | `{r.model}` | {key} | {r.reaches} | {r.note} |")
    return "\n".join(lines) + "\n"


def _block(name: str, body: str) -> str:
    return (f"<!-- generated by local_server/tools/doctor/paste.py ({name}): edit there, then run "
            f"`bge-local doctor --write-docs` -->\n{body}<!-- end of generated {name} -->")


def generated_blocks(filename: str) -> dict[str, str]:
    """The generated blocks each document holds, by name."""
    if filename in ("README.md", "ragflow.md"):
        return {f"{app.lower()}-table": _block(f"{app.lower()}-table", markdown(app)) for app in ("RAGFlow", "Dify")}
    return {}


def write_docs() -> list[Path]:
    """Regenerate the tables in the repository's README.md and docs/ragflow.md; returns the files changed."""
    root = Path(__file__).resolve().parents[2]
    return write([root / "README.md", root / "docs" / "ragflow.md"])


def write(paths: list[Path]) -> list[Path]:
    """Replace each generated block in ``paths``; returns the files that changed."""
    changed = []
    for path in paths:
        text = path.read_text()
        new = text
        for name, block in generated_blocks(path.name).items():
            pattern = re.compile(rf"<!-- generated by [^\n]*\({re.escape(name)}\)[^\n]*-->\n.*?"
                                 rf"<!-- end of generated {re.escape(name)} -->", re.S)
            new = pattern.sub(lambda _m, b=block: b, new)
        if new != text:
            path.write_text(new)
            changed.append(path)
    return changed
