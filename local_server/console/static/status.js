// "Status": models, readiness, GPU memory, queue depth, request counts by dialect, and two charts over the
// last minutes (tokens/s per model; p50/p99 latency per task), all from one poll of /v1/stats. While the server
// does not answer, what is shown stays, dimmed, and the badge says since when it is unreachable.

import { clock, duration, t, tf } from "./i18n.js";
import uPlot from "./vendor/uPlot.esm.js";
import { bar, clear, el } from "./widgets.js";

const TASK_OF_KIND = { embedding: "embed", reranker: "rerank" };
const PALETTE = ["#1f6fd1", "#c2410c", "#2b8a3e", "#862e9c", "#a16207", "#0b7285"];
// Tick steps of the time axis, in seconds: whole seconds and round minutes only (no ":53.750").
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600];
const MIN_SPAN_S = 60; // one or two samples still get a minute-wide axis around them (not 2027 to 2029)

const typeLabel = (type) => t(`type.${type}`);

function modelsTable(models) {
  const columns = ["status.name", "status.type", "status.device", "status.dtype", "status.max_length",
    "status.dimension", "status.replicas", "status.queue"];
  return el("table", { class: "models", id: "models" },
    el("thead", {}, el("tr", {}, columns.map((k) => el("th", { scope: "col", text: t(k) })))),
    el("tbody", {}, models.map((m) => el("tr", { dataset: { model: m.name, type: m.type } },
      el("td", { translate: "no" }, el("strong", { text: m.name }),
        m.aliases.length ? el("span", { class: "muted", text: ` (${m.aliases.join(", ")})` }) : null),
      el("td", { text: typeLabel(m.type), title: m.type }),
      el("td", { translate: "no", text: m.devices.join(", ") }),
      el("td", { translate: "no", text: m.precision ?? m.dtype, title: m.dtype }),
      el("td", { class: "num", text: m.max_input_length }),
      el("td", { class: "num", text: m.dimension ?? "–" }),
      el("td", { class: "num", text: m.replicas }),
      el("td", { class: "num queue", text: m.queue_depth })))));
}

function gpuList(gpus) {
  if (!gpus.length) return el("p", { class: "muted", text: t("status.no_gpu") });
  return el("ul", { class: "gpus" }, gpus.map((g) => el("li", {},
    el("span", { translate: "no", text: `GPU ${g.index} ${g.name}` }), bar(g.memory_used_mb, g.memory_total_mb),
    el("span", { class: "num", text: `${(g.memory_used_mb / 1024).toFixed(1)} / ${(g.memory_total_mb / 1024).toFixed(1)} GiB` }))));
}

function dialectBars(byDialect) {
  const entries = Object.entries(byDialect).sort((a, b) => b[1] - a[1]);
  if (!entries.length) return el("p", { class: "muted", text: t("status.no_requests") });
  const max = entries[0][1];
  return el("ul", { class: "dialects", id: "dialects" }, entries.map(([name, count]) => el("li", { dataset: { dialect: name, count } },
    el("span", { class: "label", translate: "no", text: name }), bar(count, max), el("span", { class: "num", text: count }))));
}

// The x range: the samples' own, at least MIN_SPAN_S wide and centred on them when shorter; with none, the last minute.
export function timeRange(min, max, now = Date.now() / 1000) {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [now - MIN_SPAN_S, now];
  const span = max - min;
  if (span >= MIN_SPAN_S) return [min, max];
  const pad = (MIN_SPAN_S - span) / 2;
  return [min - pad, max + pad];
}

// One uPlot chart that is rebuilt when its series change and fed new data otherwise.
export class Chart {
  constructor(holder, unitKey, points) {
    this.holder = holder;
    this.unitKey = unitKey;
    this.points = points; // latency has gaps (intervals without requests): dots keep lone values visible
    this.plot = null;
    this.key = "";
    this.empty = el("p", { class: "muted chart-empty", text: t("status.no_samples") });
  }

  width() {
    return Math.max(260, (this.holder.clientWidth || 600) - 20);
  }

  update(times, series) {
    const key = series.map((s) => s.label).join("|");
    const data = [times, ...series.map((s) => s.values)];
    const width = this.width();
    this.empty.hidden = times.length > 0;
    if (this.plot && key === this.key) {
      this.plot.setData(data);
      if (Math.abs(this.plot.width - width) > 4) this.plot.setSize({ width, height: 220 });
      return;
    }
    this.plot?.destroy();
    this.key = key;
    const narrow = width < 480;
    const opts = {
      width, height: 220,
      scales: {
        // from the data itself: for a single sample uPlot proposes a day-long (or longer) range
        x: { time: true, range: (u) => timeRange(u.data[0].length ? u.data[0][0] : null, u.data[0].at(-1) ?? null) },
        y: { range: (u, min, max) => [0, Math.max(1, (max ?? 0) * 1.1)] },
      },
      axes: [
        { space: narrow ? 70 : 60, incrs: TIME_STEPS,
          values: (u, splits) => {
            const seconds = splits.some((v) => Math.round(v) % 60 !== 0);
            return splits.map((v) => clock(v, seconds));
          } },
        { label: t(this.unitKey), size: narrow ? 48 : 60, space: 30 },
      ],
      series: [{ label: t("chart.time"), value: (u, v) => (v == null ? "–" : clock(v, true)) },
        ...series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2,
          dash: s.dash, spanGaps: false, points: this.points ? { show: true, size: 5 } : { size: 5 } }))],
      legend: { live: true },
    };
    this.plot = new uPlot(opts, data, this.holder);
    this.holder.append(this.empty);
  }
}

export class StatusPanel {
  constructor(panel) {
    this.panel = panel;
    this.throughput = new Chart(panel.querySelector("#chart-throughput"), "unit.tokens_per_s", false);
    this.latency = new Chart(panel.querySelector("#chart-latency"), "unit.ms", true);
    this.last = null;
    this.downSince = null;
    window.addEventListener("resize", () => this.redraw());
  }

  // Draws the last answer again (the panel became visible, the window was resized), keeping an outage shown.
  redraw() {
    if (!this.last) return;
    const since = this.downSince;
    this.render(this.last);
    if (since) this.unreachable(since);
  }

  render(stats) {
    this.last = stats;
    this.downSince = null;
    const p = this.panel;
    const state = stats.status;
    const badge = p.querySelector("#readiness");
    badge.textContent = t(`status.${state === "ok" ? "ready" : state}`);
    badge.dataset.state = state;
    p.querySelector("#server-meta").textContent =
      `${t("status.version")} ${stats.version} · ${tf("status.uptime", { time: duration(stats.uptime_s) })}`;
    clear(p.querySelector("#models-holder"), modelsTable(stats.models));
    clear(p.querySelector("#gpus-holder"), gpuList(stats.gpus));
    clear(p.querySelector("#dialects-holder"), dialectBars(stats.requests_by_dialect));
    const samples = stats.samples;
    const times = samples.map((s) => s.t);
    // Series for every served model (tokens are counted by model type), even before its first request.
    const kinds = stats.models.map((m) => m.type);
    const models = [...new Set([...kinds, ...samples.flatMap((s) => Object.keys(s.tokens_per_s))])].sort();
    this.throughput.update(times, models.map((m) => ({ label: typeLabel(m), values: samples.map((s) => s.tokens_per_s[m] ?? 0) })));
    const tasks = [...new Set([...kinds.map((k) => TASK_OF_KIND[k]),
      ...samples.flatMap((s) => Object.keys(s.latency_ms))])].sort();
    const latency = [];
    for (const task of tasks) {
      for (const q of ["p50", "p99"]) {
        latency.push({ label: `${t(`task.${task}`)} ${q}`, dash: q === "p99" ? [6, 4] : undefined,
          values: samples.map((s) => s.latency_ms[task]?.[q] ?? null) });
      }
    }
    this.latency.update(times, latency);
    p.dataset.state = "done";
  }

  // The server stopped answering at `since` (a Date): the badge says so; the rest stays as it was, dimmed.
  unreachable(since) {
    this.downSince = since;
    const badge = this.panel.querySelector("#readiness");
    badge.textContent = tf("status.unreachable", { time: clock(since.getTime() / 1000, true) });
    badge.dataset.state = "down";
    this.panel.dataset.state = "stale";
  }
}
