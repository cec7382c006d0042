// The Connect panel's tables, with every column of the docs' tables (docs/ragflow.md, README): provider, model
// type, the form field to paste into, the URL, the model name, the API key to type, where requests go, notes —
// and a test button per row. Kept apart from connect.js (which fetches the rows and runs the tests) so that it can
// render any version of the client-request table: a row needs {app, provider, model_type, field, value, model,
// key, reaches, note, sends_key, hybrid (optional)}; runRow(row) -> Promise<{ok, message}> runs its test.

import { note, t, tf } from "./i18n.js";
import { clear, copyButton, el, urlText } from "./widgets.js";

const COLUMNS = ["connect.provider", "connect.model_type", "connect.field", "connect.value", "connect.model",
  "connect.api_key", "connect.reaches", "connect.note", "connect.test"];

// What to type in the row's API-key field (as the doctor's key_to_type): the server's key, `x` for forms that
// refuse an empty field, empty, or nothing that works.
function keyCell(row, serverKey) {
  if (row.key === "none") {
    return serverKey ? el("span", { class: "bad", text: `✘ ${t("connect.key_cannot")}` })
      : el("span", { text: t("connect.key_empty") });
  }
  if (serverKey) return el("span", { text: t("connect.key_server") });
  if (row.key === "required") {
    return el("span", { title: t("connect.key_any_why") }, el("code", { translate: "no", text: "x" }), ` ${t("connect.key_any")}`);
  }
  return el("span", { text: t("connect.key_empty") });
}

function cell(column, attrs, ...children) {
  return el("td", { ...attrs, dataset: { label: t(column) } }, ...children);
}

// A row's accessible name, shared by its copy and test buttons: "Dify · Ollama · rerank" (the hybrid's rows, the
// same form as the cross-encoder's, add "· bge-m3 hybrid").
const appName = (app) => (app === "Other tools" ? t("connect.others") : app);
const rowName = (row) => `${appName(row.app)} · ${row.provider} · ${t(`form.${row.model_type}`)}`
  + (row.hybrid ? ` · ${t("rerank.hybrid")}` : "");

export function rowElement(row, { serverKey, baseUrl, runRow }) {
  const result = el("span", { class: "test-result", role: "status" });
  const run = async () => {
    result.dataset.ok = "";
    result.textContent = "…";
    const outcome = await runRow(row);
    const [mark, label] = outcome.ok === null ? ["–", "connect.skipped"]
      : outcome.ok ? ["✔", "connect.pass"] : ["✘", "connect.fail"];
    result.dataset.ok = outcome.ok === null ? "skip" : String(outcome.ok);
    result.textContent = `${mark} ${t(label)}: ${outcome.message}`;
  };
  const notes = [note(row.note, { u: baseUrl, m: row.model }), row.sends_key ? "" : t("connect.sends_no_key")]
    .filter(Boolean).join("；");
  const name = rowName(row);
  const tr = el("tr", { class: "connect-row", dataset: { app: row.app, provider: row.provider, modelType: row.model_type } },
    cell("connect.provider", { translate: "no", class: "provider" }, row.provider),
    cell("connect.model_type", { text: t(`form.${row.model_type}`) }),
    cell("connect.field", { translate: "no" }, row.field ? el("q", { text: row.field }) : "–"),
    cell("connect.value", { class: "value" }, row.value
      ? [urlText(row.value), " ", copyButton(() => row.value, tf("connect.copy_row", { row: name }))]
      : el("span", { class: "muted", text: `✘ ${t("connect.not_possible")}` })),
    cell("connect.model", { translate: "no" }, row.model ? el("code", { text: row.model }) : "–"),
    cell("connect.api_key", { class: "key" }, keyCell(row, serverKey)),
    cell("connect.reaches", { class: "reaches" }, note(row.reaches)),
    cell("connect.note", { class: "note" }, notes),
    cell("connect.test", { class: "test" }, row.value ? [el("button", { type: "button", class: "test-button",
      text: t("connect.test"), "aria-label": tf("connect.test_row", { row: name }), onclick: run }), result] : null));
  tr.runTest = row.value ? run : null;
  return tr;
}

export function table(rows, options) {
  return el("table", { class: "connect" },
    el("thead", {}, el("tr", {}, COLUMNS.map((k) => el("th", { scope: "col", text: t(k) })))),
    el("tbody", {}, rows.map((row) => rowElement(row, options))));
}

// Dify's, RAGFlow's and the other tools' tables under their headings, and the "test every row" button: fills `holder`.
export function renderTables(holder, rows, options) {
  const testAll = el("button", { type: "button", id: "connect-test-all", text: t("connect.test_all") });
  const parts = [el("p", { class: "hint", id: "connect-key-note",
    text: t(options.serverKey ? "connect.key_note_keyed" : "connect.key_note_keyless") }), testAll];
  const tables = [];
  for (const [app, where] of [["Dify", "connect.dify_where"], ["RAGFlow", "connect.ragflow_where"],
    ["Other tools", "connect.others_where"]]) {
    const tableEl = table(rows.filter((r) => r.app === app), options);
    tables.push(tableEl);
    parts.push(el("h3", { text: t(where) }), el("div", { class: "table-scroll connect-box" }, tableEl));
  }
  testAll.addEventListener("click", async () => {
    testAll.disabled = true;
    for (const tableEl of tables) {
      for (const tr of tableEl.querySelectorAll("tr.connect-row")) if (tr.runTest) await tr.runTest();
    }
    testAll.disabled = false;
  });
  clear(holder, ...parts);
}
