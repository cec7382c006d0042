// Calls to this server: the API key (kept in this tab's sessionStorage only), JSON, and curl for each request.

import { t, tf } from "./i18n.js";

const KEY_STORAGE = "bge-local-api-key";

// The console is served at <root>/ui/, so the server's root (with any reverse-proxy prefix) is one level up.
export const root = new URL("../", window.location.href);

let key = sessionStorage.getItem(KEY_STORAGE) || "";

export function apiKey() {
  return key;
}

export function setKey(value, remember) {
  key = value;
  if (remember && value) sessionStorage.setItem(KEY_STORAGE, value);
  if (!value) sessionStorage.removeItem(KEY_STORAGE);
}

export function url(path) {
  return new URL(path, root).href;
}

// One request; answers {status, body, ms}. status 0: no answer (network error: the server is down or unreachable).
export async function call(method, path, body, { withKey = key, absolute = false } = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (withKey) headers.Authorization = `Bearer ${withKey}`;
  const started = performance.now();
  let response;
  try {
    response = await fetch(absolute ? path : url(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (error) {
    return { status: 0, body: null, ms: performance.now() - started, error: String(error) };
  }
  let parsed = null;
  let text = "";
  try {
    text = await response.text();
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  return { status: response.status, body: parsed, text, ms: performance.now() - started };
}

// A reply that is not a 200, in the page's language: the browser's own network error text ("TypeError: Failed to
// fetch") is never shown; the server's message is quoted after a translated lead.
export function errorMessage(reply) {
  if (reply.status === 0) return t("error.network");
  const body = reply.body;
  const message = body?.error?.message ?? body?.detail ?? reply.text?.slice(0, 200) ?? "";
  return tf("error.http", { status: reply.status, message: typeof message === "string" ? message : JSON.stringify(message) });
}

function shellQuote(text) {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

// The request as a curl command. The key itself never appears: $BGE_LOCAL_API_KEY stands for it. -w '\n' ends
// each answer with a newline, so that two commands run one after the other print two lines, not one.
export function curl(method, path, body, { absolute = false, withKey = key } = {}) {
  const lines = [`curl -sS -w '\\n' -X ${method} ${shellQuote(absolute ? path : url(path))}`];
  if (withKey) lines.push(`-H "Authorization: Bearer $BGE_LOCAL_API_KEY"`);
  if (body !== undefined) {
    lines.push("-H 'Content-Type: application/json'");
    lines.push(`-d ${shellQuote(JSON.stringify(body, null, 2))}`);
  }
  return lines.join(" \\\n  ");
}
