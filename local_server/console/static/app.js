// The console's entry: the key gate, the tabs, and the status poll. Nothing that shows data is drawn until
// /v1/stats has answered 200 — with a key configured, that needs the key.

import { apiKey, call, errorMessage, setKey } from "./api.js";
import * as connect from "./connect.js";
import { applyLabels, t } from "./i18n.js";
import * as rerank from "./rerank.js";
import { StatusPanel } from "./status.js";
import * as tryIt from "./try.js";

const POLL_MS = 2000;
const TABS = ["status", "try", "rerank", "connect"];

const $ = (selector) => document.querySelector(selector);
let status = null;
let unlocked = false;
let connectLoaded = false;
let timer = null;

function showTab(name) {
  const tab = TABS.includes(name) ? name : "status";
  for (const other of TABS) {
    $(`#panel-${other}`).hidden = other !== tab;
    $(`#tab-${other}`).setAttribute("aria-selected", String(other === tab));
  }
  if (tab === "connect" && !connectLoaded) {
    connectLoaded = true;
    connect.load($("#panel-connect"));
  }
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
    $("#banner").hidden = true;
    if (unlocked) status.render(reply.body);
    else unlock(reply.body);
  } else if (reply.status === 401) {
    const had = apiKey();
    setKey("", false);
    showGate(had ? t("gate.invalid") : "");
    return; // no polling without a key
  } else {
    const banner = $("#banner");
    banner.textContent = `${t("error.unreachable")}: ${errorMessage(reply)}`;
    banner.hidden = false;
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
  setKey(candidate, true);
  $("#gate-key").value = "";
  poll();
}

function start() {
  applyLabels();
  status = new StatusPanel($("#panel-status"));
  tryIt.setup($("#panel-try"));
  rerank.setup($("#panel-rerank"));
  $("#gate-form").addEventListener("submit", submitKey);
  $("#forget-key").addEventListener("click", () => {
    setKey("", false);
    location.reload();
  });
  window.addEventListener("hashchange", () => unlocked && showTab(location.hash.slice(1)));
  poll();
}

start();
