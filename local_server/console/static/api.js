// Calls to this server: the API key (kept in this tab's sessionStorage only), JSON, and curl for each request.

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

// One request; answers {status, body, ms}. status 0: no answer (network error).
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
  const text = await response.text();
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  return { status: response.status, body: parsed, text, ms: performance.now() - started };
}

export function errorMessage(reply) {
  if (reply.status === 0) return reply.error || "no answer";
  const body = reply.body;
  const message = body?.error?.message ?? body?.detail ?? reply.text?.slice(0, 200) ?? "";
  return `HTTP ${reply.status}: ${message}`;
}

function shellQuote(text) {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

// The request as a curl command. The key itself never appears: $BGE_LOCAL_API_KEY stands for it.
export function curl(method, path, body, { absolute = false, withKey = key } = {}) {
  const lines = [`curl -sS -X ${method} ${shellQuote(absolute ? path : url(path))}`];
  if (withKey) lines.push(`-H "Authorization: Bearer $BGE_LOCAL_API_KEY"`);
  if (body !== undefined) {
    lines.push("-H 'Content-Type: application/json'");
    lines.push(`-d ${shellQuote(JSON.stringify(body, null, 2))}`);
  }
  return lines.join(" \\\n  ");
}
