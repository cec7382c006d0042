// "Connect": doctor's what-to-paste table for the URL this browser sees, each row with copy and test buttons.
// A test replays, from the browser, the requests that row's client sends (the server lists them per row),
// and reads each answer the way that client does.

import { addressField } from "./address.js";
import { apiKey, call, errorMessage, root } from "./api.js";
import { renderTables } from "./connect_view.js";
import { t, tf } from "./i18n.js";
import { at, judge } from "./judge.js";
import { clear, el } from "./widgets.js";

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
