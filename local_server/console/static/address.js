// "The address Dify and RAGFlow will use": the Connect panel's editable base URL. It defaults to the address this
// browser used; when that is a loopback address (which, inside a Docker container, is the container itself), it
// offers addresses containers can reach: the host's LAN addresses as the server reports them, Docker's
// host.docker.internal, and the compose service name. Kept apart from connect.js so that it can sit above any
// version of the what-to-paste table: addressField() gives the element, onChange the chosen root URL.

import { t, tf } from "./i18n.js";
import { el, urlText } from "./widgets.js";

const LOOPBACK_HOST = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/i;

export function isLoopbackUrl(value) {
  try {
    return LOOPBACK_HOST.test(new URL(value).hostname);
  } catch {
    return false;
  }
}

// A root URL from what was typed: scheme added when missing, trailing slashes dropped; null when it is no URL.
export function normaliseAddress(value) {
  let text = value.trim();
  if (!text) return null;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) text = `http://${text}`;
  try {
    const parsed = new URL(text);
    if (!/^https?:$/.test(parsed.protocol) || !parsed.hostname) return null;
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`.replace(/\/+$/, "");
  } catch {
    return null;
  }
}

// Addresses a container can reach this server at, each with why: [{url, hint}].
export function suggestions(browserBase, reach) {
  const here = new URL(browserBase);
  const port = here.port || (here.protocol === "https:" ? "443" : "80");
  const path = here.pathname.replace(/\/+$/, "");
  const out = [];
  for (const ip of reach?.lan_addresses ?? []) {
    out.push({ url: `${here.protocol}//${ip}:${port}${path}`, kind: "lan",
      hint: reach.listens_on_loopback_only ? tf("address.lan_loopback_only", { host: reach.listen_host }) : t("address.lan") });
  }
  out.push({ url: `${here.protocol}//host.docker.internal:${port}${path}`, kind: "docker-host", hint: t("address.docker_host") });
  if (reach?.compose_service) out.push({ url: reach.compose_service, kind: "compose", hint: t("address.compose") });
  return out;
}

// The field, its loopback warning and (on loopback) the suggestions. onChange(rootUrl) runs on Enter, on leaving
// the field with a changed value, and on choosing a suggestion.
export function addressField({ browserBase, reach, value, onChange }) {
  const input = el("input", { id: "connect-address", type: "text", inputmode: "url", spellcheck: "false",
    autocomplete: "off", "aria-describedby": "connect-address-help" });
  input.value = value;
  const warning = el("p", { class: "warning", id: "connect-loopback", role: "note", text: t("address.loopback_warning") });
  const invalid = el("p", { class: "error", id: "connect-address-invalid", role: "alert", hidden: true, text: t("address.invalid") });
  let current = value;
  const apply = (candidate) => {
    const normal = normaliseAddress(candidate);
    invalid.hidden = normal !== null;
    if (normal === null) return;
    input.value = normal;
    warning.hidden = !isLoopbackUrl(normal);
    if (normal !== current) {
      current = normal;
      onChange(normal);
    }
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") apply(input.value);
  });
  input.addEventListener("change", () => apply(input.value));
  warning.hidden = !isLoopbackUrl(value);
  const offered = isLoopbackUrl(browserBase) ? suggestions(browserBase, reach) : [];
  const list = offered.length ? el("div", { class: "suggestions", id: "connect-suggestions" },
    el("p", { class: "hint", text: t("address.suggestions") }),
    el("ul", {}, offered.map((s) => el("li", { dataset: { kind: s.kind } },
      el("button", { type: "button", class: "suggestion", dataset: { url: s.url },
        "aria-label": tf("address.use", { url: s.url }), onclick: () => apply(s.url) }, urlText(s.url)),
      el("span", { class: "hint", text: s.hint }))))) : null;
  return el("div", { class: "address", id: "connect-address-box" },
    el("label", { for: "connect-address", text: t("address.label") }),
    input,
    el("p", { class: "hint", id: "connect-address-help", text: t("address.help") }),
    invalid, warning,
    reach?.listens_on_loopback_only ? el("p", { class: "warning", id: "connect-listen-loopback", role: "note",
      text: tf("address.listen_loopback", { host: reach.listen_host }) }) : null,
    list);
}
