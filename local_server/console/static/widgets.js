// Small DOM building blocks: elements, copy buttons, the "request sent" box, heatmaps and bars.
// Colours and widths are set through element.style (CSSOM), which a CSP without 'unsafe-inline' allows.

import { t } from "./i18n.js";

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

export function copyButton(getText) {
  const button = el("button", { type: "button", class: "copy", text: t("copy") });
  button.addEventListener("click", async () => {
    const ok = await copyText(getText());
    button.textContent = ok ? t("copied") : t("copy");
    setTimeout(() => { button.textContent = t("copy"); }, 1500);
  });
  return button;
}

// "Request sent": the curl commands of the requests behind what the panel shows.
export function requestBox(commands) {
  const text = commands.join("\n\n");
  return el("details", { class: "request", open: true },
    el("summary", { text: t("request.sent") }),
    el("div", { class: "request-body" }, el("pre", { class: "curl", text }), copyButton(() => text)));
}

// A colour for value within [lo, hi]: white to the accent blue.
function shade(value, lo, hi) {
  const x = hi > lo ? Math.min(1, Math.max(0, (value - lo) / (hi - lo))) : 0.5;
  const light = 97 - x * 55;
  return `hsl(212 80% ${light}%)`;
}

// A square matrix as a table: every cell holds its value as text (3 decimals) and in data-value (full).
export function heatmap(id, labels, matrix, { lo, hi } = {}) {
  const values = matrix.flat();
  const low = lo ?? Math.min(...values);
  const high = hi ?? Math.max(...values);
  const head = el("tr", {}, el("th"), labels.map((label, j) => el("th", { title: label, text: `${j + 1}` })));
  const rows = matrix.map((row, i) => el("tr", {},
    el("th", { class: "row-label", title: labels[i], text: `${i + 1}. ${labels[i]}` }),
    row.map((value, j) => {
      const cell = el("td", { dataset: { i, j, value: String(value) }, text: value.toFixed(3) });
      cell.style.backgroundColor = shade(value, low, high);
      if ((value - low) / ((high - low) || 1) > 0.65) cell.classList.add("dark");
      return cell;
    })));
  return el("table", { class: "heatmap", id }, el("thead", {}, head), el("tbody", {}, rows));
}

// A horizontal bar of width value/max.
export function bar(value, max) {
  const fill = el("span", { class: "bar-fill" });
  fill.style.width = `${Math.max(0, Math.min(1, max > 0 ? value / max : 0)) * 100}%`;
  return el("span", { class: "bar" }, fill);
}

export function clear(node, ...children) {
  node.replaceChildren(...children);
  return node;
}
