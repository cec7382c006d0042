// The console's entry: the key gate, the tabs, the status poll and the connection state. Nothing that shows data
// is drawn until /v1/stats has answered 200 — with a key configured, that needs the key.
//
// The connection state is what the last poll found: "connecting" (no answer yet), "reachable", "loading" (the
// server answers, its models are still loading) or "unreachable" since the first failed poll. While unreachable,
// what the panels show stays, dimmed, and the poll goes on; when the server answers again every panel recovers by
// itself (Connect, if its load had failed, loads again).

import { apiKey, call, errorMessage, setKey } from "./api.js";
import * as connect from "./connect.js";
import { applyLabels, clock, lang, t, tf } from "./i18n.js";
import * as rerank from "./rerank.js";
import { StatusPanel } from "./status.js";
import * as tryIt from "./try.js";

const POLL_MS = 2000;
const TABS = ["status", "try", "rerank", "connect"];

const $ = (selector) => document.querySelector(selector);
let status = null;
let reranking = null; // the Rerank panel: serve(models) says which rankings the server serves
let unlocked = false;
let current = "status";
let connectState = "idle"; // idle | loading | loaded: only a load that succeeded counts
let timer = null;
let connection = { state: "connecting", since: null };

function loadConnect() {
  if (connectState !== "idle") return;
  connectState = "loading";
  connect.load($("#panel-connect")).then((ok) => {
    connectState = ok ? "loaded" : "idle";
  }, () => {
    connectState = "idle";
  });
}

function showTab(name, { focus = false } = {}) {
  const tab = TABS.includes(name) ? name : "status";
  current = tab;
  for (const other of TABS) {
    const selected = other === tab;
    $(`#panel-${other}`).hidden = !selected;
    const tabEl = $(`#tab-${other}`);
    tabEl.setAttribute("aria-selected", String(selected));
    tabEl.tabIndex = selected ? 0 : -1;
  }
  if (focus) $(`#tab-${tab}`).focus();
  if (tab === "connect") loadConnect();
  if (tab === "status") status?.redraw(); // the charts measure a visible panel
}

// Arrow keys, Home and End move between tabs (WAI-ARIA tabs pattern, automatic activation).
function onTabKey(event) {
  const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
  let index = TABS.indexOf(current);
  if (event.key in moves) index = (index + moves[event.key] + TABS.length) % TABS.length;
  else if (event.key === "Home") index = 0;
  else if (event.key === "End") index = TABS.length - 1;
  else return;
  event.preventDefault();
  history.replaceState(null, "", `#${TABS[index]}`);
  showTab(TABS[index], { focus: true });
}

function setConnection(state, reply) {
  const before = connection.state;
  if (state === "unreachable" && before !== "unreachable") connection = { state, since: new Date() };
  else if (state !== "unreachable") connection = { state, since: null };
  document.body.dataset.connection = state;
  $("#app").dataset.stale = String(state === "unreachable");
  const indicator = $("#connection");
  indicator.dataset.state = state;
  const time = connection.since ? clock(connection.since.getTime() / 1000, true) : "";
  indicator.textContent = tf(`connection.${state}`, { time });
  const banner = $("#banner");
  if (state === "unreachable") {
    const text = [tf("error.unreachable_since", { time }), errorMessage(reply), t("error.stale")]
      .join(lang === "zh" ? "" : " ");
    if (banner.textContent !== text) banner.textContent = text;
    banner.hidden = false;
    if (unlocked) status.unreachable(connection.since);
    $("#step-ready").dataset.done = "false";
    $("#step-ready-state").textContent = tf("status.unreachable", { time });
  } else {
    banner.hidden = true;
    banner.textContent = "";
  }
  if (before === "unreachable" && state !== "unreachable" && unlocked && current === "connect") loadConnect();
}

function updateSteps(stats) {
  const step = $("#step-ready");
  const ready = stats.status === "ok";
  step.dataset.done = String(ready);
  $("#step-ready-state").textContent = ready ? t("steps.ready_done") : t(`status.${stats.status}`);
}

function showGate(message) {
  unlocked = false;
  $("#app").hidden = true;
  $("#gate").hidden = false;
  const error = $("#gate-error");
  error.textContent = message || "";
  error.hidden = !message;
  $("#gate-key").focus();
}

function unlock(stats) {
  unlocked = true;
  $("#gate").hidden = true;
  $("#app").hidden = false;
  $("#forget-key").hidden = !apiKey();
  showTab(location.hash.slice(1)); // first, so that the charts measure a visible panel
  status.render(stats);
}

async function poll() {
  const reply = await call("GET", "v1/stats");
  if (reply.status === 200) {
    setConnection(reply.body.status === "loading" ? "loading" : "reachable", reply);
    if (unlocked) status.render(reply.body);
    else unlock(reply.body);
    reranking.serve(reply.body.models ?? []); // /health's models: which rankings the Rerank panel shows
    updateSteps(reply.body);
  } else if (reply.status === 401) {
    setConnection("reachable", reply);
    const had = apiKey();
    setKey("", false);
    showGate(had ? t("gate.invalid") : "");
    return; // no polling without a key
  } else {
    setConnection("unreachable", reply);
  }
  clearTimeout(timer);
  timer = setTimeout(poll, POLL_MS);
}

async function submitKey(event) {
  event.preventDefault();
  const candidate = $("#gate-key").value.trim();
  if (!candidate) return;
  const reply = await call("GET", "v1/stats", undefined, { withKey: candidate });
  if (reply.status === 401) {
    showGate(t("gate.invalid"));
    return;
  }
  if (reply.status !== 200) {
    showGate(errorMessage(reply));
    return;
  }
  setKey(candidate, true);
  $("#gate-key").value = "";
  poll();
}

function start() {
  applyLabels();
  setConnection("connecting", null);
  status = new StatusPanel($("#panel-status"));
  tryIt.setup($("#panel-try"));
  reranking = rerank.setup($("#panel-rerank"));
  $("#gate-form").addEventListener("submit", submitKey);
  $("#forget-key").addEventListener("click", () => {
    setKey("", false);
    location.reload();
  });
  $("#tabs").addEventListener("keydown", onTabKey);
  window.addEventListener("hashchange", () => unlocked && showTab(location.hash.slice(1)));
  poll();
}

start();
