// "Connect": doctor's what-to-paste table for the URL this browser sees, each row with copy and test buttons.
// A test replays, from the browser, the requests that row's client sends (the server lists them per row),
// and reads each answer the way that client does.

import { apiKey, call, errorMessage, root } from "./api.js";
import { t } from "./i18n.js";
import { at, judge } from "./judge.js";
import { clear, copyButton, el } from "./widgets.js";

// Run one row's calls; resolves to {ok, message}, ok null when there was nothing to test.
export async function testRow(row, key) {
  if (row.calls.length === 0) return { ok: null, message: t("connect.not_served") };
  let slowest = 0;
  let reference = [];
  for (const c of row.calls) {
    const withKey = row.sends_key && c.sends_key ? key : "";
    const reply = await call(c.method, c.url, c.body ?? undefined, { absolute: true, withKey });
    slowest = Math.max(slowest, reply.ms);
    if (reply.status !== c.status) {
      const why = errorMessage(reply);
      const hint = reply.status === 401 && !row.sends_key ? ` — ${t("connect.no_key_sent")}` : "";
      return { ok: false, message: `${c.method} ${new URL(c.url).pathname}: ${why}${hint}` };
    }
    try {
      if (reply.body === null || reply.body === undefined) throw new Error("the answer is not JSON");
      judge(reply.body, c.rules, reference);
      if (c.reference) reference = at(reply.body, c.reference);
    } catch (error) {
      return { ok: false, message: `${new URL(c.url).pathname}: ${error.message}` };
    }
  }
  const paths = [...new Set(row.calls.map((c) => new URL(c.url).pathname))].join(", ");
  return { ok: true, message: `${paths} · ${Math.round(slowest)} ms` };
}

function rowElement(row, keyInput) {
  const result = el("span", { class: "test-result" });
  const run = async () => {
    result.dataset.ok = "";
    result.textContent = "…";
    const outcome = await testRow(row, keyInput.value);
    const [mark, label] = outcome.ok === null ? ["–", "connect.skipped"]
      : outcome.ok ? ["✔", "connect.pass"] : ["✘", "connect.fail"];
    result.dataset.ok = outcome.ok === null ? "skip" : String(outcome.ok);
    result.textContent = `${mark} ${t(label)}: ${outcome.message}`;
  };
  const notes = [row.note, row.sends_key ? "" : t("connect.sends_no_key")].filter(Boolean).join("; ");
  const tr = el("tr", { class: "connect-row", dataset: { app: row.app, provider: row.provider, modelType: row.model_type } },
    el("td", { text: row.provider }),
    el("td", { text: row.model_type }),
    el("td", { class: "value" }, row.value
      ? [el("code", { text: row.value }), copyButton(() => row.value)]
      : el("span", { class: "muted", text: `✘ ${t("connect.not_possible")}` })),
    el("td", { text: row.reaches }),
    el("td", { class: "note", text: notes }),
    el("td", { class: "test" }, row.value ? [el("button", { type: "button", class: "test-button", text: t("connect.test"), onclick: run }), result] : null));
  tr.runTest = row.value ? run : null;
  return tr;
}

function table(rows, keyInput) {
  return el("table", { class: "connect" },
    el("thead", {}, el("tr", {}, ["connect.provider", "connect.model_type", "connect.value", "connect.reaches",
      "connect.note", "connect.test"].map((k) => el("th", { text: t(k) })))),
    el("tbody", {}, rows.map((row) => rowElement(row, keyInput))));
}

const LOOPBACK = /^(localhost|127\.|\[::1\]|::1)/;

export async function load(panel) {
  const output = panel.querySelector("#connect-output");
  const error = panel.querySelector("#connect-error");
  const keyInput = panel.querySelector("#connect-key");
  keyInput.value = apiKey();
  const base = root.href.replace(/\/$/, "");
  const reply = await call("GET", `ui/api/connect?url=${encodeURIComponent(base)}`);
  if (reply.status !== 200) {
    error.textContent = errorMessage(reply);
    error.hidden = false;
    return;
  }
  error.hidden = true;
  const rows = reply.body.rows;
  const testAll = el("button", { type: "button", id: "connect-test-all", text: t("connect.test_all") });
  const parts = [el("p", {}, t("connect.intro"), " ", el("code", { text: reply.body.url }), copyButton(() => reply.body.url))];
  if (LOOPBACK.test(root.hostname)) parts.push(el("p", { class: "warning", text: t("connect.loopback") }));
  parts.push(testAll);
  const tables = [];
  for (const [app, where] of [["Dify", "connect.dify_where"], ["RAGFlow", "connect.ragflow_where"]]) {
    const tableEl = table(rows.filter((r) => r.app === app), keyInput);
    tables.push(tableEl);
    parts.push(el("h3", { text: t(where) }), el("div", { class: "table-scroll" }, tableEl));
  }
  testAll.addEventListener("click", async () => {
    testAll.disabled = true;
    for (const tableEl of tables) {
      for (const tr of tableEl.querySelectorAll("tr.connect-row")) if (tr.runTest) await tr.runTest();
    }
    testAll.disabled = false;
  });
  clear(output, ...parts);
  panel.dataset.state = "done";
}
