// "Connect": doctor's what-to-paste table for the URL this browser sees, each row with copy and test buttons.
// A test replays, from the browser, the requests that row's client sends (the server lists them per row),
// and reads each answer the way that client does.

import { addressField } from "./address.js";
import { apiKey, call, errorMessage, root } from "./api.js";
import { renderTables } from "./connect_view.js";
import { t, tf } from "./i18n.js";
import { clear, el } from "./widgets.js";

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
  return { ok: true, message: `${paths} · ${Math.round(slowest)} ${t("unit.ms_short")}` };
}

// HOOK(console#21) — the panel's layout lives in two modules that any version of the client-request table can
// feed: address.js (the address Dify and RAGFlow will use, with container-reachable suggestions on loopback) and
// connect_view.js (the docs' columns, copy and test buttons). What they need from a table: see connect_view.js.
// The table is asked for twice when the chosen address is not the browser's: once for the values to paste (at
// the chosen address), once for the calls the tests replay (at the address this browser reaches), paired by row.

let chosen = null; // the address chosen in the field; null: the browser's

async function fetchTable(base) {
  return call("GET", `ui/api/connect?url=${encodeURIComponent(base)}`);
}

function showError(panel, reply) {
  const error = panel.querySelector("#connect-error");
  error.textContent = `${t("connect.load_failed")} ${errorMessage(reply)}`;
  error.hidden = false;
}

// Draws the panel; resolves true once it is drawn, false when the server did not answer (the caller retries).
export async function load(panel) {
  const output = panel.querySelector("#connect-output");
  const error = panel.querySelector("#connect-error");
  const keyInput = panel.querySelector("#connect-key");
  if (!keyInput.value) keyInput.value = apiKey();
  const browserBase = root.href.replace(/\/$/, "");
  const reply = await fetchTable(browserBase);
  if (reply.status !== 200) {
    showError(panel, reply);
    return false;
  }
  error.hidden = true;
  const tested = reply.body;
  const holder = el("div", { id: "connect-tables" });
  const via = el("p", { class: "hint", id: "connect-tests-via", hidden: true });
  const draw = async (address) => {
    let shown = tested;
    if (address !== tested.url) {
      const other = await fetchTable(address);
      if (other.status !== 200) {
        showError(panel, other);
        return;
      }
      shown = other.body;
    }
    error.hidden = true;
    via.hidden = shown === tested;
    via.textContent = tf("connect.tests_via", { url: tested.url });
    const rows = shown.rows.map((row, i) => ({ ...row, calls: tested.rows[i]?.calls ?? [] }));
    renderTables(holder, rows, { serverKey: tested.server_key, baseUrl: shown.url,
      runRow: (row) => testRow(row, keyInput.value) });
    panel.dataset.address = shown.url;
  };
  const address = addressField({ browserBase: tested.url, reach: tested.reach, value: chosen ?? tested.url,
    onChange: (value) => {
      chosen = value;
      panel.dataset.state = "drawing";
      draw(value).then(() => { panel.dataset.state = "done"; });
    } });
  clear(output, el("p", { text: t("connect.intro") }), address, via, holder);
  await draw(chosen ?? tested.url);
  panel.dataset.state = "done";
  return true;
}
