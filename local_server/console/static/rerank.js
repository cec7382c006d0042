// "Rerank": a query and documents in, ranked by what the server serves (/health's models say), side by side:
// the cross-encoder (/v1/rerank twice: scores 0..1, then raw logits) and bge-m3's own hybrid score (model
// bge-m3-hybrid: the weighted sum of its dense, sparse and ColBERT scores, each part shown, with the weights taken
// from the form, which starts at the server's defaults). A server with one of the two shows that one alone.

import { call, curl, errorMessage } from "./api.js";
import { lang, t, tf } from "./i18n.js";
import { bar, clear, cutNotice, el, requestBox } from "./widgets.js";

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
export const PARTS = ["dense", "sparse", "colbert"];

// What /health's models say the server serves: the cross-encoder's name, the hybrid's name and default weights
// (the hybrid is listed under the embedder's also_serves, or on its own under its per-model URL). null: none yet.
export function servedFrom(health) {
  const all = (health?.models ?? []).flatMap((m) => [m, ...(m.also_serves ?? [])]);
  if (all.length === 0) return null;
  const reranker = all.find((m) => m.type === "reranker");
  const hybrid = all.find((m) => m.type === "hybrid");
  return { reranker: reranker?.name ?? null, hybrid: hybrid ? { name: hybrid.name, weights: hybrid.weights } : null };
}

function column(id, title, model, hint, list) {
  return el("section", { class: "rerank-col", id, "aria-labelledby": `${id}-title` },
    el("h3", { id: `${id}-title` }, `${title} `, el("code", { translate: "no", text: model })),
    el("p", { class: "hint", text: hint }), list);
}

function crossRanked(results, raw, documents) {
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

function hybridRanked(results, documents) {
  return el("ol", { class: "ranked", id: "hybrid-results" }, results.map((r) => {
    const parts = r.components ?? {};
    const data = { index: r.index, score: r.relevance_score };
    for (const part of PARTS) data[part] = parts[part];
    return el("li", { dataset: data },
      el("div", { class: "doc", translate: "no", text: documents[r.index] }),
      el("div", { class: "scores" },
        bar(r.relevance_score, 1),
        el("span", { class: "num score", title: t("rerank.score"), text: r.relevance_score.toFixed(4) })),
      el("dl", { class: "components" }, PARTS.map((part) => el("div", {},
        el("dt", { text: t(`try.w_${part}`) }),
        el("dd", { class: `num ${part}`, text: Number(parts[part]).toFixed(4) })))));
  }));
}

// The documents a model's answer says it cut (its "truncated": the tokens of query + document kept), under the
// model's name: the cross-encoder cuts each query + document pair, the hybrid the query and each document.
function cutBy(which, model, answer) {
  const cut = answer?.truncated;
  const [before, after] = tf("cut.rerank", { n: cut?.length }).split("{model}");
  return cutNotice(`rerank-truncated-${which}`, [before, el("code", { translate: "no", text: model }), after], cut,
    (c) => tf("cut.pair", { n: c.index + 1, tokens: c.tokens }));
}

export function setup(panel) {
  const query = panel.querySelector("#rerank-query");
  const documents = panel.querySelector("#rerank-documents");
  const button = panel.querySelector("#rerank-run");
  const output = panel.querySelector("#rerank-output");
  const error = panel.querySelector("#rerank-error");
  const announce = panel.querySelector("#rerank-status");
  const weightsBox = panel.querySelector("#hybrid-weights");
  const weightInputs = Object.fromEntries(PARTS.map((p) => [p, panel.querySelector(`#hybrid-w-${p}`)]));
  let served = null;
  query.value = SAMPLES.query;
  documents.value = SAMPLES.documents.join("\n");
  const fail = (message, state) => {
    error.textContent = message;
    error.hidden = false;
    panel.dataset.state = state;
  };
  // The models /health lists (the console's poll of /v1/stats carries the same list): which rankings to show, and
  // the hybrid's default weights, put in the form once (what the user types afterwards stays).
  const serve = (models) => {
    const found = servedFrom({ models });
    if (!found) return;
    if (found.hybrid && !served?.hybrid) {
      for (const part of PARTS) weightInputs[part].value = String(found.hybrid.weights?.[part] ?? "");
    }
    served = found;
    weightsBox.hidden = !found.hybrid;
    panel.dataset.serves = [found.reranker && "reranker", found.hybrid && "hybrid"].filter(Boolean).join(" ");
  };
  const readWeights = () => {
    const values = PARTS.map((p) => Number(weightInputs[p].value));
    const bad = PARTS.findIndex((p, i) => weightInputs[p].value.trim() === "" || !(values[i] >= 0));
    if (bad >= 0) return { invalid: weightInputs[PARTS[bad]] };
    if (values.every((v) => v === 0)) return { invalid: weightInputs.dense };
    return { values };
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
    const serves = served;
    if (!serves) {
      fail(t("rerank.nothing_served"), "refused");
      return;
    }
    const weights = serves.hybrid ? readWeights() : null;
    if (weights?.invalid) {
      fail(t("rerank.bad_weights"), "refused");
      weights.invalid.focus();
      return;
    }
    button.disabled = true;
    panel.dataset.state = "running";
    const body = { query: query.value, documents: docs, return_documents: false };
    const requests = [];
    if (serves.reranker) {
      requests.push({ key: "scored", label: t("rerank.curl_scores"), body });
      requests.push({ key: "raw", label: t("rerank.curl_raw"), body: { ...body, raw_scores: true } });
    }
    if (serves.hybrid) {
      requests.push({ key: "hybrid", label: t("rerank.curl_hybrid"), body: { model: serves.hybrid.name, ...body,
        return_components: true, hybrid_weights: weights.values } });
    }
    const replies = await Promise.all(requests.map((r) => call("POST", "v1/rerank", r.body)));
    button.disabled = false;
    const failed = replies.find((r) => r.status !== 200);
    if (failed) {
      fail(errorMessage(failed), "error");
      return;
    }
    const got = Object.fromEntries(requests.map((r, i) => [r.key, replies[i].body]));
    const columns = [];
    if (got.scored) {
      columns.push(column("rerank-cross", t("rerank.cross"), serves.reranker, t("rerank.computed"),
        crossRanked(got.scored.results, got.raw.results, docs)));
    }
    if (got.hybrid) {
      columns.push(column("rerank-hybrid", t("rerank.hybrid"), serves.hybrid.name, t("rerank.hybrid_computed"),
        hybridRanked(got.hybrid.results, docs)));
    }
    clear(output, cutBy("cross", serves.reranker, got.scored), cutBy("hybrid", serves.hybrid?.name, got.hybrid),
      el("div", { class: "rerank-columns", dataset: { columns: columns.length } }, columns),
      requestBox(requests.map((r, i) => ({ label: `${i + 1}/${requests.length}: ${r.label}`,
        text: curl("POST", "v1/rerank", r.body) })), t("request.curl_name")));
    announce.textContent = tf("rerank.done", { n: docs.length });
    panel.dataset.state = "done";
  });
  return { serve };
}
