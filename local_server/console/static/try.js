// "Try bge-m3": texts in, one /v1/embeddings call with dense, sparse (by token) and ColBERT outputs, drawn.

import { call, curl, errorMessage } from "./api.js";
import { t } from "./i18n.js";
import { colbertScore, combined, cosine, lexicalMatch, matrix, topTokens } from "./similarity.js";
import { bar, clear, el, heatmap, requestBox } from "./widgets.js";

export const SAMPLE_TEXTS = [
  "What is BGE M3?",
  "BGE M3 is an embedding model supporting dense retrieval, lexical matching and multi-vector interaction.",
  "BM25 is a bag-of-words retrieval function that ranks documents by the query terms they contain.",
  "BGE M3 是一个支持稠密检索、词汇匹配和多向量交互的嵌入模型。",
];
const TOP_TOKENS = 10;
const DEFAULT_WEIGHTS = { dense: 0.4, sparse: 0.2, colbert: 0.4 }; // bge-m3's model card

function section(titleKey, ...body) {
  return el("section", { class: "result" }, el("h3", { text: t(titleKey) }), ...body);
}

function sparseCards(texts, sparse) {
  return el("div", { class: "sparse-grid", id: "sparse-tokens" }, texts.map((text, i) => {
    const top = topTokens(sparse[i], TOP_TOKENS);
    const max = top.length ? top[0].weight : 0;
    return el("div", { class: "sparse-card", dataset: { index: i } },
      el("h4", { title: text, text: `${i + 1}. ${text}` }),
      el("ol", {}, top.map((item) => el("li", { dataset: { token: item.token, id: item.id, weight: item.weight } },
        el("code", { class: "token", text: item.token }), bar(item.weight, max),
        el("span", { class: "num", text: item.weight.toFixed(4) })))));
  }));
}

function weightSliders(weights, onChange) {
  return el("div", { class: "weights" }, el("span", { text: `${t("try.weights")}:` }),
    ["dense", "sparse", "colbert"].map((name) => {
      const output = el("output", { text: weights[name].toFixed(2) });
      const input = el("input", { type: "range", min: "0", max: "1", step: "0.05", value: String(weights[name]),
        id: `weight-${name}`, "aria-label": t(`try.w_${name}`) });
      input.addEventListener("input", () => {
        weights[name] = Number(input.value);
        output.textContent = weights[name].toFixed(2);
        onChange();
      });
      return el("label", {}, t(`try.w_${name}`), input, output);
    }));
}

export function render(data, texts, sent) {
  const items = data.data;
  const dense = items.map((d) => d.embedding);
  const sparse = items.map((d) => d.sparse_embedding);
  const colbert = items.map((d) => d.colbert_embedding);
  const denseM = matrix(dense, cosine);
  const lexicalM = matrix(sparse, lexicalMatch);
  const colbertM = matrix(colbert, colbertScore);
  const weights = { ...DEFAULT_WEIGHTS };
  const combinedHolder = el("div");
  const drawCombined = () => {
    const m = denseM.map((row, i) => row.map((d, j) => combined(d, lexicalM[i][j], colbertM[i][j], weights)));
    clear(combinedHolder, heatmap("combined-matrix", texts, m));
  };
  drawCombined();
  return [
    section("try.dense", heatmap("dense-matrix", texts, denseM, { lo: Math.min(0, ...denseM.flat()), hi: 1 })),
    section("try.sparse", sparseCards(texts, sparse)),
    section("try.lexical", heatmap("lexical-matrix", texts, lexicalM, { lo: 0 })),
    section("try.colbert", heatmap("colbert-matrix", texts, colbertM)),
    section("try.combined", weightSliders(weights, drawCombined), combinedHolder),
    requestBox([sent]),
  ];
}

export function setup(panel) {
  const input = panel.querySelector("#try-texts");
  const button = panel.querySelector("#try-run");
  const output = panel.querySelector("#try-output");
  const error = panel.querySelector("#try-error");
  input.value = SAMPLE_TEXTS.join("\n");
  button.addEventListener("click", async () => {
    const texts = input.value.split("\n").map((s) => s.trim()).filter(Boolean);
    error.hidden = true;
    if (texts.length === 0) {
      error.textContent = t("try.need_two");
      error.hidden = false;
      return;
    }
    const body = { input: texts, encoding_format: "float", return_dense: true, return_sparse_tokens: true,
      return_colbert_vecs: true };
    button.disabled = true;
    panel.dataset.state = "running";
    const reply = await call("POST", "v1/embeddings", body);
    button.disabled = false;
    if (reply.status !== 200) {
      error.textContent = errorMessage(reply);
      error.hidden = false;
      panel.dataset.state = "error";
      return;
    }
    clear(output, ...render(reply.body, texts, curl("POST", "v1/embeddings", body)));
    panel.dataset.state = "done";
  });
}
