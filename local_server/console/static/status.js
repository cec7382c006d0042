// "Status": models, readiness, GPU memory, queue depth, request counts by dialect, and two charts over the
// last minutes (tokens/s per model; p50/p99 latency per task), all from one poll of /v1/stats.

import { t } from "./i18n.js";
import uPlot from "./vendor/uPlot.esm.js";
import { bar, clear, el } from "./widgets.js";

const TASK_OF_KIND = { embedding: "embed", reranker: "rerank" };
const PALETTE = ["#1f6fd1", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285"];

function modelsTable(models) {
  const columns = ["status.name", "status.type", "status.device", "status.dtype", "status.max_length",
    "status.dimension", "status.replicas", "status.queue"];
  return el("table", { class: "models", id: "models" },
    el("thead", {}, el("tr", {}, columns.map((k) => el("th", { text: t(k) })))),
    el("tbody", {}, models.map((m) => el("tr", { dataset: { model: m.name, type: m.type } },
      el("td", {}, el("strong", { text: m.name }), m.aliases.length ? el("span", { class: "muted", text: ` (${m.aliases.join(", ")})` }) : null),
      el("td", { text: m.type }),
      el("td", { text: m.devices.join(", ") }),
      el("td", { text: m.dtype }),
      el("td", { class: "num", text: m.max_input_length }),
      el("td", { class: "num", text: m.dimension ?? "–" }),
      el("td", { class: "num", text: m.replicas }),
      el("td", { class: "num queue", text: m.queue_depth })))));
}

function gpuList(gpus) {
  if (!gpus.length) return el("p", { class: "muted", text: t("status.no_gpu") });
  return el("ul", { class: "gpus" }, gpus.map((g) => el("li", {},
    el("span", { text: `GPU ${g.index} ${g.name}` }), bar(g.memory_used_mb, g.memory_total_mb),
    el("span", { class: "num", text: `${(g.memory_used_mb / 1024).toFixed(1)} / ${(g.memory_total_mb / 1024).toFixed(1)} GiB` }))));
}

function dialectBars(byDialect) {
  const entries = Object.entries(byDialect).sort((a, b) => b[1] - a[1]);
  if (!entries.length) return el("p", { class: "muted", text: t("status.no_requests") });
  const max = entries[0][1];
  return el("ul", { class: "dialects", id: "dialects" }, entries.map(([name, count]) => el("li", { dataset: { dialect: name, count } },
    el("span", { class: "label", text: name }), bar(count, max), el("span", { class: "num", text: count }))));
}

// One uPlot chart that is rebuilt when its series change and fed new data otherwise.
class Chart {
  constructor(holder, unit, points) {
    this.holder = holder;
    this.unit = unit;
    this.points = points; // latency has gaps (intervals without requests): dots keep lone values visible
    this.plot = null;
    this.key = "";
  }

  update(times, series) {
    const key = series.map((s) => s.label).join("|");
    const data = [times, ...series.map((s) => s.values)];
    const width = Math.max(280, (this.holder.clientWidth || 600) - 20);
    if (this.plot && key === this.key) {
      this.plot.setData(data);
      if (Math.abs(this.plot.width - width) > 4) this.plot.setSize({ width, height: 220 });
      return;
    }
    this.plot?.destroy();
    this.key = key;
    const opts = {
      width, height: 220,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [{}, { label: this.unit, size: 60 }],
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2,
        dash: s.dash, spanGaps: false, points: { show: this.points, size: 5 } }))],
      legend: { live: true },
    };
    this.plot = new uPlot(opts, data, this.holder);
  }
}

export class StatusPanel {
  constructor(panel) {
    this.panel = panel;
    this.throughput = new Chart(panel.querySelector("#chart-throughput"), "tokens/s", false);
    this.latency = new Chart(panel.querySelector("#chart-latency"), "ms", true);
  }

  render(stats) {
    const p = this.panel;
    const state = stats.status;
    const badge = p.querySelector("#readiness");
    badge.textContent = t(`status.${state === "ok" ? "ready" : state}`);
    badge.dataset.state = state;
    p.querySelector("#server-meta").textContent =
      `${t("status.version")} ${stats.version} · ${t("status.uptime")} ${formatDuration(stats.uptime_s)}`;
    clear(p.querySelector("#models-holder"), modelsTable(stats.models));
    clear(p.querySelector("#gpus-holder"), gpuList(stats.gpus));
    clear(p.querySelector("#dialects-holder"), dialectBars(stats.requests_by_dialect));
    const samples = stats.samples;
    const times = samples.map((s) => s.t);
    // Series for every served model (tokens are counted by model type), even before its first request.
    const kinds = stats.models.map((m) => m.type);
    const models = [...new Set([...kinds, ...samples.flatMap((s) => Object.keys(s.tokens_per_s))])].sort();
    this.throughput.update(times, models.map((m) => ({ label: m, values: samples.map((s) => s.tokens_per_s[m] ?? 0) })));
    const tasks = [...new Set([...kinds.map((k) => TASK_OF_KIND[k]),
      ...samples.flatMap((s) => Object.keys(s.latency_ms))])].sort();
    const latency = [];
    for (const task of tasks) {
      for (const q of ["p50", "p99"]) {
        latency.push({ label: `${task} ${q}`, dash: q === "p99" ? [6, 4] : undefined,
          values: samples.map((s) => s.latency_ms[task]?.[q] ?? null) });
      }
    }
    this.latency.update(times, latency);
    p.dataset.state = "done";
  }
}

function formatDuration(seconds) {
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h} h ${m} min` : m ? `${m} min ${s % 60} s` : `${s} s`;
}
