// "Connect": doctor's what-to-paste table for the URL this browser sees, each row with copy and test buttons.
// A test replays, from the browser, the requests that row's client sends (the server lists them per row),
// and reads each answer the way that client does.

import { apiKey, call, errorMessage, root } from "./api.js";
import { t } from "./i18n.js";
import { clear, copyButton, el } from "./widgets.js";

// How each answer is judged is data from the server (local_server/clients/requests.py, the table the doctor runs
// too): rules over paths into the JSON answer. This interprets them, test by test as clients/judge.py does.
const MISSING = Symbol("missing");
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const isNumber = (x) => typeof x === "number" && Number.isFinite(x);
const isNumberList = (v) => Array.isArray(v) && v.length > 0 && v.every(isNumber);

function base64Bytes(v) {
  if (typeof v !== "string") return null;
  try {
    return atob(v);
  } catch {
    return null;
  }
}

function float32s(v) {
  if (Array.isArray(v)) return v.map(float32s);
  const raw = base64Bytes(v);
  if (raw === null || raw.length % 4 !== 0) return MISSING;
  const bytes = Uint8Array.from(raw, (c) => c.charCodeAt(0));
  return Array.from(new Float32Array(bytes.buffer));
}

function walk(value, segments) {
  if (segments.length === 0 || value === MISSING) return value;
  const [head, ...rest] = segments;
  if (head === "*") return Array.isArray(value) ? value.map((item) => walk(item, rest)) : MISSING;
  if (head === "#") return Array.isArray(value) || typeof value === "string" ? value.length
    : isObject(value) ? Object.keys(value).length : MISSING;
  if (head.endsWith("~f32")) return walk(float32s(walk(value, [head.slice(0, -4)])), rest);
  if (isObject(value)) return head in value ? walk(value[head], rest) : MISSING;
  if (Array.isArray(value) && /^\d+$/.test(head)) return Number(head) < value.length ? walk(value[Number(head)], rest) : MISSING;
  return MISSING;
}

const at = (body, path) => walk(body, path ? path.split(".") : []);

function cosine(a, b) {
  let dot = 0, na = 0, nb = 0;
  a.forEach((x, i) => { dot += x * b[i]; na += x * x; nb += b[i] * b[i]; });
  return na && nb ? dot / Math.sqrt(na * nb) : 0;
}

// A vector agrees with the first reference vector, a list of vectors with the references item by item.
function agrees(v, reference) {
  if (reference.length === 0) return isNumberList(v) || (Array.isArray(v) && v.every(isNumberList));
  const vectors = isNumberList(v) ? [v] : v;
  if (!Array.isArray(vectors) || vectors.length === 0 || vectors.length > reference.length) return false;
  return vectors.every((x, i) => isNumberList(x) && x.length === reference[i].length && cosine(x, reference[i]) > 0.999);
}

const sortedNumbers = (v) => [...v].sort((a, b) => a - b);
const isScores = (v) => Array.isArray(v) && v.every((s) => typeof s === "number");

const TESTS = {
  object: (v) => isObject(v),
  list: (v) => Array.isArray(v),
  length: (v, n) => Array.isArray(v) && v.length === n,
  present: (v) => v !== MISSING,
  bool: (v) => typeof v === "boolean",
  equals: (v, arg) => v === arg,
  positive_int: (v) => Number.isInteger(v) && v > 0,
  numbers: (v) => isNumberList(v),
  base64_f32: (v) => { const raw = base64Bytes(v); return raw !== null && raw.length > 0 && raw.length % 4 === 0; },
  first_key: (v, arg) => isObject(v) && Object.keys(v)[0] === arg,
  joins: (v, arg) => Array.isArray(v) && v.every((s) => typeof s === "string") && v.join("") === arg,
  sequence: (v) => Array.isArray(v) && v.every((x, i) => x === i),
  permutation: (v) => Array.isArray(v) && v.every(Number.isInteger) && sortedNumbers(v).every((x, i) => x === i),
  unit: (v) => isScores(v) && v.every((s) => s >= 0 && s <= 1),
  descending: (v) => isScores(v) && v.every((s, i) => i === 0 || v[i - 1] >= s),
  same_length: (v) => Array.isArray(v) && v.every(Array.isArray) && new Set(v.map((x) => x.length)).size <= 1,
  distinct: (v) => Array.isArray(v) && new Set(v.map((x) => JSON.stringify(x))).size === v.length,
  agrees: (v, arg, reference) => agrees(v, reference),
};

// Throws with the first broken rule's message.
export function judge(body, rules, reference = []) {
  for (const rule of rules) {
    const value = at(body, rule.path);
    const test = TESTS[rule.test];
    if (rule.each) {
      const items = Array.isArray(value) ? value : [MISSING];
      items.forEach((item, i) => { if (!test(item, rule.arg, reference)) throw new Error(rule.message.replaceAll("{i}", String(i))); });
    } else if (!test(value, rule.arg, reference)) {
      throw new Error(rule.message);
    }
  }
}

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
      if (c.reference) reference = at(reply.body, "data.*.embedding");
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
