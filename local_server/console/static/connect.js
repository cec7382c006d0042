// "Connect": doctor's what-to-paste table for the URL this browser sees, each row with copy and test buttons.
// A test replays, from the browser, the requests that row's client sends (the server lists them per row),
// and reads each answer the way that client does.

import { apiKey, call, errorMessage, root } from "./api.js";
import { t } from "./i18n.js";
import { clear, copyButton, el } from "./widgets.js";

const isNumberList = (v) => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "number" && Number.isFinite(x));

function need(condition, message) {
  if (!condition) throw new Error(message);
}

function checkUsage(body) {
  need(Number.isInteger(body?.usage?.total_tokens) && body.usage.total_tokens > 0,
    "usage.total_tokens missing or 0 (RAGFlow refuses 0)");
}

function checkEmbeddings(body, n, base64) {
  need(body && typeof body === "object" && !Array.isArray(body), "not a JSON object");
  need("model" in body, "no top-level 'model'");
  need(Array.isArray(body.data) && body.data.length === n, `expected ${n} items in 'data'`);
  body.data.forEach((item, i) => {
    need(item.index === i, "'index' missing or out of order");
    if (base64) {
      need(typeof item.embedding === "string", `embedding ${i} is not a base64 string`);
      need(atob(item.embedding).length % 4 === 0, `embedding ${i} is not a float32 array`);
    } else {
      need(isNumberList(item.embedding), `embedding ${i} is not a list of numbers`);
    }
  });
  checkUsage(body);
}

function checkScores(scores, what) {
  need(scores.every((s) => typeof s === "number" && s >= 0 && s <= 1), `${what}: scores not all within 0..1`);
}

function checkIndices(indices, n) {
  need([...indices].sort((a, b) => a - b).join() === [...Array(n).keys()].join(), `indices are not 0..${n - 1}`);
}

function checkRerank(body, n, usage) {
  need(body && Array.isArray(body.results), "no 'results'");
  need(body.results.length === n, `${body.results.length} results for ${n} documents`);
  checkIndices(body.results.map((r) => r.index), n);
  const scores = body.results.map((r) => r.relevance_score);
  checkScores(scores, "rerank");
  need(scores.every((s, i) => i === 0 || scores[i - 1] >= s), "results are not sorted by score");
  if (usage) checkUsage(body);
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

function checkTeiInfo(body, type) {
  need(isObject(body) && isObject(body.model_type), "/info has no 'model_type'");
  need(Object.keys(body.model_type)[0] === type, `/info describes ${Object.keys(body.model_type)}, not the ${type}`);
}

function checkXinferenceModel(body, type) {
  need(isObject(body) && body.model_type === type, `model_type is not '${type}'`);
}

const CHECKS = {
  tei_info_embedding: (body) => checkTeiInfo(body, "embedding"),
  tei_info_rerank: (body) => checkTeiInfo(body, "reranker"),
  xinference_auth: (body) => need(isObject(body) && typeof body.auth === "boolean", "no 'auth' flag"),
  xinference_model_embedding: (body) => checkXinferenceModel(body, "embedding"),
  xinference_model_rerank: (body) => checkXinferenceModel(body, "rerank"),
  cohere_tokenize: (body, n, sent) => {
    need(isObject(body) && Array.isArray(body.tokens) && body.tokens.length > 0, "no 'tokens'");
    need(Array.isArray(body.token_strings) && body.token_strings.join("") === sent.text,
      "token_strings do not join back into the text");
  },
  cohere_embed: (body, n) => {
    need(isObject(body) && body.response_type === "embeddings_floats", "not Cohere's embeddings_floats");
    need(Array.isArray(body.embeddings) && body.embeddings.length === n && body.embeddings.every(isNumberList),
      `expected ${n} float vectors in 'embeddings'`);
    need(Number.isInteger(body.meta?.billed_units?.input_tokens) && body.meta.billed_units.input_tokens > 0,
      "no meta.billed_units.input_tokens");
  },
  ollama_embed: (body, n) => need(isObject(body) && Array.isArray(body.embeddings) && body.embeddings.length === n
    && body.embeddings.every(isNumberList), `expected ${n} vectors in 'embeddings'`),
  ollama_embedding: (body) => need(isObject(body) && isNumberList(body.embedding), "no 'embedding' vector"),
  openai_embeddings: (body, n) => checkEmbeddings(body, n, false),
  openai_embeddings_base64: (body, n) => checkEmbeddings(body, n, true),
  tei_embed: (body, n) => {
    need(Array.isArray(body) && body.length === n && body.every(isNumberList), "TEI /embed must answer [[floats]]");
  },
  rerank: (body, n) => checkRerank(body, n, true),
  rerank_no_usage: (body, n) => checkRerank(body, n, false),
  tei_rerank: (body, n) => {
    need(Array.isArray(body) && body.length === n, "TEI /rerank must answer a bare list, one item per text");
    checkIndices(body.map((r) => r.index), n);
    checkScores(body.map((r) => r.score), "TEI /rerank");
  },
};

// Run one row's calls; resolves to {ok, message}, ok null when there was nothing to test.
export async function testRow(row, key) {
  if (row.calls.length === 0) return { ok: null, message: t("connect.not_served") };
  let slowest = 0;
  for (const c of row.calls) {
    const reply = await call(c.method, c.url, c.body ?? undefined, { absolute: true, withKey: row.sends_key ? key : "" });
    slowest = Math.max(slowest, reply.ms);
    if (reply.status !== 200) {
      const why = errorMessage(reply);
      const hint = reply.status === 401 && !row.sends_key ? ` — ${t("connect.no_key_sent")}` : "";
      return { ok: false, message: `${c.method} ${new URL(c.url).pathname}: ${why}${hint}` };
    }
    try {
      CHECKS[c.expect](reply.body, c.count, c.body);
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
