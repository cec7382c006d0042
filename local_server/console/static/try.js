// "Try bge-m3": texts in, one /v1/embeddings call with dense, sparse (by token) and ColBERT outputs, drawn.

import { call, curl, errorMessage } from "./api.js";
import { lang, t, tf } from "./i18n.js";
import * as forms from "./forms.js";
import { colbertScore, combined, cosine, lexicalMatch, matrix, topTokens } from "./similarity.js";
import { bar, clear, cutNotice, el, heatmap, requestBox } from "./widgets.js";

// In the page's language, with one text in the other language: bge-m3 matches across languages.
export const SAMPLE_TEXTS = {
  en: [
    "What is BGE M3?",
    "BGE M3 is an embedding model supporting dense retrieval, lexical matching and multi-vector interaction.",
    "BM25 is a bag-of-words retrieval function that ranks documents by the query terms they contain.",
    "BGE M3 是一个支持稠密检索、词汇匹配和多向量交互的嵌入模型。",
  ],
  zh: [
    "BGE M3 是什么？",
    "BGE M3 是一个支持稠密检索、词汇匹配和多向量交互的嵌入模型。",
    "BM25 是一种词袋检索函数，按文档包含的查询词为文档排序。",
    "BGE M3 is an embedding model supporting dense retrieval, lexical matching and multi-vector interaction.",
  ],
}[lang];
const TOP_TOKENS = 10;
const DEFAULT_WEIGHTS = { dense: 0.4, sparse: 0.2, colbert: 0.4 }; // bge-m3's model card
export const WORD_BOUNDARY = "▁"; // SentencePiece's word-boundary piece, which decodes to an empty string

function section(titleKey, ...body) {
  return el("section", { class: "result" }, el("h3", { text: t(titleKey) }), ...body);
}

// A token as shown: the word-boundary piece (empty once decoded) and blank pieces get a visible label.
function tokenLabel(token) {
  if (token.trim() === "" || token === WORD_BOUNDARY) {
    return el("code", { class: "token boundary", title: t("try.boundary"), text: WORD_BOUNDARY });
  }
  return el("code", { class: "token", translate: "no", title: token, text: token });
}

function sparseCards(texts, sparse) {
  return el("div", { class: "sparse-grid", id: "sparse-tokens" }, texts.map((text, i) => {
    const top = topTokens(sparse[i], TOP_TOKENS);
    const max = top.length ? top[0].weight : 0;
    return el("div", { class: "sparse-card", dataset: { index: i } },
      el("h4", { title: text }, `${i + 1}. `, el("span", { translate: "no", text })),
      top.length ? el("ol", {}, top.map((item) => el("li", { dataset: { token: item.token, id: item.id, weight: item.weight } },
        tokenLabel(item.token), bar(item.weight, max),
        el("span", { class: "num", text: item.weight.toFixed(4) }))))
        : el("p", { class: "muted", text: t("try.no_tokens") }));
  }));
}

function weightSliders(weights, onChange) {
  return el("div", { class: "weights" }, el("span", { text: `${t("try.weights")}:` }),
    ["dense", "sparse", "colbert"].map((name) => {
      const output = el("output", { text: weights[name].toFixed(2) });
      const input = el("input", { type: "range", min: "0", max: "1", step: "0.05", value: String(weights[name]),
        id: `weight-${name}`, "aria-label": tf("try.weight_of", { what: t(`try.w_${name}`) }) });
      input.addEventListener("input", () => {
        weights[name] = Number(input.value);
        output.textContent = weights[name].toFixed(2);
        onChange();
      });
      return el("label", {}, t(`try.w_${name}`), input, output);
    }));
}

export function render(data, texts) {
  const items = data.data;
  const dense = items.map((d) => d.embedding);
  const sparse = items.map((d) => d.sparse_embedding);
  const colbert = items.map((d) => d.colbert_embedding);
  const denseM = matrix(dense, cosine);
  const lexicalM = matrix(sparse, lexicalMatch);
  const colbertM = matrix(colbert, colbertScore);
  const weights = { ...DEFAULT_WEIGHTS };
  const combinedHolder = el("div", { id: "combined-holder", "aria-live": "polite" });
  const drawCombined = () => {
    if (weights.dense + weights.sparse + weights.colbert <= 0) {
      clear(combinedHolder, el("p", { class: "warning", id: "combined-zero", text: t("try.zero_weights") }));
      return;
    }
    const m = denseM.map((row, i) => row.map((d, j) => combined(d, lexicalM[i][j], colbertM[i][j], weights)));
    clear(combinedHolder, heatmap("combined-matrix", texts, m, { offDiagonal: true }));
  };
  drawCombined();
  const scaleNote = texts.length > 2 ? el("p", { class: "hint", text: t("try.scale_note") }) : null;
  return [
    section("try.dense", heatmap("dense-matrix", texts, denseM, { lo: Math.min(0, ...denseM.flat()), hi: 1 })),
    section("try.sparse", el("p", { class: "hint" }, tf("try.boundary_note", { mark: WORD_BOUNDARY })),
      sparseCards(texts, sparse)),
    section("try.lexical", scaleNote, heatmap("lexical-matrix", texts, lexicalM, { lo: 0, offDiagonal: true })),
    section("try.colbert", heatmap("colbert-matrix", texts, colbertM, { offDiagonal: true })),
    section("try.combined", weightSliders(weights, drawCombined), combinedHolder),
  ];
}

export function setup(panel) {
  const input = panel.querySelector("#try-texts");
  const button = panel.querySelector("#try-run");
  const output = panel.querySelector("#try-output");
  const error = panel.querySelector("#try-error");
  const announce = panel.querySelector("#try-status");
  input.value = SAMPLE_TEXTS.join("\n");
  const fail = (message, state) => {
    error.textContent = message;
    error.hidden = false;
    panel.dataset.state = state;
  };
  button.addEventListener("click", async () => {
    const texts = input.value.split("\n").map((s) => s.trim()).filter(Boolean);
    error.hidden = true;
    announce.textContent = "";
    if (texts.length === 0) {
      fail(t("try.need_one"), "refused");
      return;
    }
    const body = { input: texts, encoding_format: "float", return_dense: true, return_sparse_tokens: true,
      return_colbert_vecs: true };
    // The drawings need float ColBERT rows and sparse weights by token; forms other than those are a second request
    // (what an app storing them sends), previewed below the drawings.
    const chosen = forms.picked(panel);
    const formsBody = forms.isDefault(chosen) ? null : forms.requestBody(texts, chosen);
    button.disabled = true;
    panel.dataset.state = "running";
    const [reply, formsReply] = await Promise.all([call("POST", "v1/embeddings", body),
      formsBody ? call("POST", "v1/embeddings", formsBody) : null]);
    button.disabled = false;
    const failed = [reply, formsReply].find((r) => r && r.status !== 200);
    if (failed) {
      fail(errorMessage(failed), "error");
      return;
    }
    const sent = curl("POST", "v1/embeddings", body);
    const commands = formsBody ? [{ label: `1/2: ${t("try.curl_drawn")}`, text: sent },
      { label: `2/2: ${t("try.curl_forms")}`, text: curl("POST", "v1/embeddings", formsBody) }] : [sent];
    const floatWidth = reply.body.data[0]?.colbert_embedding?.[0]?.length ?? 0;
    const previews = formsBody ? [forms.section(formsReply.body, texts, chosen, floatWidth)] : [];
    // The inputs the server cut to its --max-length (the answer's "truncated"): what was drawn is their start only.
    const cut = reply.body.truncated;
    const notice = cutNotice("try-truncated", tf("cut.try", { n: cut?.length }), cut,
      (c) => tf("cut.item", { n: c.index + 1, tokens: c.tokens }));
    clear(output, notice, ...render(reply.body, texts), ...previews, requestBox(commands, t("request.curl_name")));
    announce.textContent = tf("try.done", { n: texts.length });
    panel.dataset.state = "done";
  });
}
