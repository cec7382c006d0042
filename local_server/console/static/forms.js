// The Try panel's output forms: the sparse_format and colbert_format a user picks, the request that asks for them
// (its curl is what an app storing those forms sends) and a preview of each text's answer in them, with the bytes
// a text's ColBERT rows take in the form picked against float32's.

import { t, tf } from "./i18n.js";
import { el } from "./widgets.js";

export const DEFAULT_FORMS = { sparse: "indices", colbert: "float" };
const PREVIEW_CHARS = 240;
// Bytes one stored ColBERT row takes, from the width of a row as answered (binary's rows are already packed
// bytes; int8 adds its float32 scale).
const ROW_BYTES = { float: (w) => 4 * w, fp16: (w) => 2 * w, int8: (w) => w + 4, binary: (w) => w };

export function picked(panel) {
  return { sparse: panel.querySelector("#try-sparse-format").value,
    colbert: panel.querySelector("#try-colbert-format").value };
}

export function isDefault(forms) {
  return forms.sparse === DEFAULT_FORMS.sparse && forms.colbert === DEFAULT_FORMS.colbert;
}

// The request for the forms picked: sparse and ColBERT only, as JSON numbers.
export function requestBody(texts, forms) {
  return { input: texts, encoding_format: "float", return_dense: false, return_sparse: true,
    return_colbert_vecs: true, sparse_format: forms.sparse, colbert_format: forms.colbert };
}

function preview(value) {
  const text = JSON.stringify(value);
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
}

function block(labelKey, cls, value) {
  return el("div", { class: "form-block" },
    el("span", { class: "form-label", text: t(labelKey) }),
    el("pre", { class: `form-preview ${cls}`, translate: "no", text: preview(value) }));
}

// One card a text: its sparse weights and first ColBERT row as answered in the forms picked, and the bytes.
// `floatWidth`: the float ColBERT row's width (the dimension) from the drawings' own request.
export function section(data, texts, forms, floatWidth) {
  const cards = data.data.map((item, i) => {
    const rows = item.colbert_embedding ?? [];
    const width = rows[0]?.length ?? 0;
    const bytes = rows.length * ROW_BYTES[forms.colbert](width);
    const floatBytes = rows.length * 4 * floatWidth;
    return el("div", { class: "form-card", dataset: { index: i, rows: rows.length, width, bytes } },
      el("h4", { title: texts[i] }, `${i + 1}. `, el("span", { translate: "no", text: texts[i] })),
      block("try.sparse_format", "sparse-preview", item.sparse_embedding),
      block("try.colbert_first_row", "colbert-preview", rows[0] ?? []),
      item.colbert_scales ? block("try.colbert_scales", "scales-preview", item.colbert_scales) : null,
      el("p", { class: "hint form-bytes", text: tf("try.colbert_bytes", { rows: rows.length, bytes, float: floatBytes }) }));
  });
  return el("section", { class: "result", id: "forms-output" },
    el("h3", {}, `${t("try.forms_out")} `, el("code", { translate: "no", text: `sparse_format: ${forms.sparse}` }), " · ",
      el("code", { translate: "no", text: `colbert_format: ${forms.colbert}` })),
    el("p", { class: "hint", text: t("try.forms_out_hint") }),
    el("div", { class: "sparse-grid" }, cards));
}
