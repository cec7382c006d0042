// Small DOM building blocks: elements, copy buttons, the "request sent" box, heatmaps and bars.
// Colours and widths are set through element.style (CSSOM), which a CSP without 'unsafe-inline' allows.

import { apiKey } from "./api.js";
import { t, tf } from "./i18n.js";

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// navigator.clipboard exists only in secure contexts (https, localhost); a LAN http address falls back
// to a selected textarea and execCommand("copy").
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // fall through
    }
  }
  const area = el("textarea", { class: "offscreen", readonly: true });
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

// A copy button; `name` says what it copies, so that each of the page's copy buttons has its own accessible name.
export function copyButton(getText, name) {
  const label = tf("copy.what", { what: name });
  const button = el("button", { type: "button", class: "copy", text: t("copy"), "aria-label": label, title: label });
  button.addEventListener("click", async () => {
    const ok = await copyText(getText());
    button.textContent = ok ? t("copied") : t("copy");
    setTimeout(() => { button.textContent = t("copy"); }, 1500);
  });
  return button;
}

// "Request sent": the curl commands of the requests behind what the panel shows, each under a comment naming it.
// With a key, a note says to export it first (the commands read $BGE_LOCAL_API_KEY; the key itself is never shown).
export function requestBox(commands, name) {
  const withKey = Boolean(apiKey());
  const blocks = commands.map((c) => (typeof c === "string" ? c : `# ${c.label}\n${c.text}`));
  const text = [withKey ? `# ${t("request.export_comment")}\n# export BGE_LOCAL_API_KEY='…'` : null, ...blocks]
    .filter(Boolean).join("\n\n");
  return el("details", { class: "request", open: true },
    el("summary", { text: t("request.sent") }),
    withKey ? el("p", { class: "hint export-note" }, t("request.export"), " ",
      el("code", { translate: "no", text: "export BGE_LOCAL_API_KEY='…'" })) : null,
    el("div", { class: "request-body" }, el("pre", { class: "curl", translate: "no", tabindex: "0", text }),
      copyButton(() => text, name)));
}

// A URL as text that wraps only after a '/' (a <wbr> there), never inside a word or a host:port.
export function urlText(url, attrs = {}) {
  const scheme = /^[a-z]+:\/\//i.exec(url)?.[0] ?? "";
  const parts = url.slice(scheme.length).split(/(?<=\/)/);
  const code = el("code", { class: "url", translate: "no", ...attrs }, scheme + parts[0]);
  for (const part of parts.slice(1)) code.append(el("wbr"), part);
  return code;
}

// A colour for value within [lo, hi]: white to a mid blue, light enough that the dark cell text keeps a contrast
// above 4.5:1 on every shade (WCAG AA).
function shade(value, lo, hi) {
  const x = hi > lo ? Math.min(1, Math.max(0, (value - lo) / (hi - lo))) : 0.5;
  const light = 97 - x * 35;
  return `hsl(212 80% ${light}%)`;
}

// A square matrix as a table: every cell holds its value as text (3 decimals) and in data-value (full). With
// offDiagonal, the colours span the values between different texts only: a text scored against itself (the
// diagonal, often far above the rest) would otherwise wash every other cell out; it is drawn in the top colour.
export function heatmap(id, labels, matrix, { lo, hi, offDiagonal = false } = {}) {
  const off = matrix.flatMap((row, i) => row.filter((_, j) => i !== j));
  const values = offDiagonal && off.length ? off : matrix.flat();
  const low = lo ?? Math.min(...values);
  const high = hi ?? Math.max(...values);
  const head = el("tr", {}, el("th", { scope: "col" }, el("span", { class: "sr-only", text: t("heatmap.text") })),
    labels.map((label, j) => el("th", { scope: "col", title: label, text: `${j + 1}` })));
  const rows = matrix.map((row, i) => el("tr", {},
    el("th", { scope: "row", class: "row-label", title: labels[i] }, `${i + 1}. `, el("span", { translate: "no", text: labels[i] })),
    row.map((value, j) => {
      const cell = el("td", { dataset: { i, j, value: String(value) }, text: value.toFixed(3) });
      cell.style.backgroundColor = shade(value, low, high);
      if (i === j) cell.classList.add("diag");
      return cell;
    })));
  return el("div", { class: "table-scroll heatmap-box", tabindex: "0", role: "group", "aria-label": t("heatmap.scroll") },
    el("table", { class: "heatmap", id }, el("thead", {}, head), el("tbody", {}, rows)));
}

// A horizontal bar of width value/max.
export function bar(value, max) {
  const fill = el("span", { class: "bar-fill" });
  fill.style.width = `${Math.max(0, Math.min(1, max > 0 ? value / max : 0)) * 100}%`;
  return el("span", { class: "bar" }, fill);
}

// The inputs a server's answer says it cut to its maximum length (its "truncated": [{index, tokens}]) as a notice:
// a title (text or nodes), then one line per input (label(cut) says which and the tokens kept). null when nothing was cut.
export function cutNotice(id, title, cut, label) {
  if (!Array.isArray(cut) || cut.length === 0) return null;
  return el("div", { class: "warning cut-notice", id, role: "note" }, el("p", {}, title),
    el("ul", {}, cut.map((c) => el("li", { dataset: { index: c.index, tokens: c.tokens }, text: label(c) }))));
}

// node's children replaced by children; null and undefined ones (an optional part left out) are skipped.
export function clear(node, ...children) {
  node.replaceChildren(...children.filter((c) => c !== null && c !== undefined));
  return node;
}
