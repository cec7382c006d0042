// "Rerank": a query and documents in, /v1/rerank twice (scores 0..1, then raw logits), ranked with bars.

import { call, curl, errorMessage } from "./api.js";
import { lang, t, tf } from "./i18n.js";
import { bar, clear, el, requestBox } from "./widgets.js";

const SAMPLES = {
  en: {
    query: "What is the capital of France?",
    documents: ["The capital of France is Paris.", "巴黎是法国的首都，也是最大的城市。", "Berlin is the capital of Germany.",
      "Horses and cows are both animals."],
  },
  zh: {
    query: "法国的首都是哪里？",
    documents: ["法国的首都是巴黎。", "The capital of France is Paris.", "柏林是德国的首都。", "马和牛都是动物。"],
  },
}[lang];

function ranked(results, raw, documents) {
  const rawByIndex = new Map(raw.map((r) => [r.index, r.relevance_score]));
  return el("ol", { class: "ranked", id: "rerank-results" }, results.map((r) => {
    const rawScore = rawByIndex.get(r.index);
    return el("li", { dataset: { index: r.index, score: r.relevance_score, raw: rawScore } },
      el("div", { class: "doc", translate: "no", text: documents[r.index] }),
      el("div", { class: "scores" },
        bar(r.relevance_score, 1),
        el("span", { class: "num score", title: t("rerank.score"), text: r.relevance_score.toFixed(4) }),
        el("span", { class: "num raw", title: t("rerank.raw"), text: `${t("rerank.raw")} ${rawScore.toFixed(3)}` })));
  }));
}

export function setup(panel) {
  const query = panel.querySelector("#rerank-query");
  const documents = panel.querySelector("#rerank-documents");
  const button = panel.querySelector("#rerank-run");
  const output = panel.querySelector("#rerank-output");
  const error = panel.querySelector("#rerank-error");
  const announce = panel.querySelector("#rerank-status");
  query.value = SAMPLES.query;
  documents.value = SAMPLES.documents.join("\n");
  const fail = (message, state) => {
    error.textContent = message;
    error.hidden = false;
    panel.dataset.state = state;
  };
  button.addEventListener("click", async () => {
    const docs = documents.value.split("\n").map((s) => s.trim()).filter(Boolean);
    error.hidden = true;
    announce.textContent = "";
    if (!query.value.trim()) {
      fail(t("rerank.need_query"), "refused");
      query.focus();
      return;
    }
    if (docs.length === 0) {
      fail(t("rerank.need_documents"), "refused");
      documents.focus();
      return;
    }
    const body = { query: query.value, documents: docs, return_documents: false };
    const rawBody = { ...body, raw_scores: true };
    button.disabled = true;
    panel.dataset.state = "running";
    const [scored, raw] = await Promise.all([call("POST", "v1/rerank", body), call("POST", "v1/rerank", rawBody)]);
    button.disabled = false;
    const failed = [scored, raw].find((r) => r.status !== 200);
    if (failed) {
      fail(errorMessage(failed), "error");
      return;
    }
    clear(output,
      el("p", { class: "hint", text: t("rerank.computed") }),
      ranked(scored.body.results, raw.body.results, docs),
      requestBox([{ label: t("rerank.curl_scores"), text: curl("POST", "v1/rerank", body) },
        { label: t("rerank.curl_raw"), text: curl("POST", "v1/rerank", rawBody) }], t("request.curl_name")));
    announce.textContent = tf("rerank.done", { n: docs.length });
    panel.dataset.state = "done";
  });
}
