"""Figures of a run: per-rep figures and their summary, the ratios against each baseline and the goals, the
markdown tables, and the JSON file. ``tables`` works from the JSON alone (``run.py --show``)."""

from __future__ import annotations

import datetime as dt
import json
import re
import statistics
from pathlib import Path
from typing import Any

from loadgen import RunResult
from target_specs import TARGET_ORDER, precision_pairs
from targets import BENCH

# Throughput goals of issue 4: this server ÷ baseline, per scenario.
GOALS = {"seed-http": {"a": 3.0}, "in-process": {k: 1.0 for k in "bcde"}, "infinity": {k: 1.2 for k in "abcde"}}
BASELINES = ("seed-http", "in-process", "infinity")
SUMMARISED = ("tokens_per_s", "inputs_per_s", "requests_per_s", "p50_ms", "p99_ms", "tflops", "target_cpu_s",
              "loadgen_cpu_s", "cpu_s_per_1k_tokens")


def percentile(values: list[float], pct: int) -> float | None:
    """The ``pct``-th percentile (1..99), interpolated linearly between the closest ranks (numpy's default)."""
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def rep_figures(result: RunResult, requests: list, flops: float, target_cpu_s: float) -> dict[str, Any]:
    tokens = sum(r.tokens for r in requests)
    inputs = sum(len(r.lengths) for r in requests)
    wall = result.wall_s or float("nan")
    return {
        "wall_s": round(result.wall_s, 4),
        "tokens_per_s": tokens / wall, "inputs_per_s": inputs / wall, "requests_per_s": len(requests) / wall,
        "p50_ms": (percentile(result.latencies, 50) or 0) * 1000,
        "p99_ms": (percentile(result.latencies, 99) or 0) * 1000,
        "mean_ms": statistics.fmean(result.latencies) * 1000 if result.latencies else None,
        "errors": result.errors, "first_error": result.first_error,
        "tflops": flops / wall / 1e12,
        "target_cpu_s": round(target_cpu_s, 3), "loadgen_cpu_s": round(result.loadgen_cpu_s, 3),
        "cpu_s_per_1k_tokens": 1000 * target_cpu_s / tokens,
        "response_mb": round(result.response_bytes / 2**20, 2),
    }


def summarise(reps: list[dict[str, Any]]) -> dict[str, Any]:
    """Median and range of each figure over the reps without errors (over all reps if every one had some)."""
    good = [r for r in reps if not r["errors"]] or reps
    out: dict[str, Any] = {}
    for key in SUMMARISED:
        values = [r[key] for r in good if r.get(key) is not None]
        if values:
            out[key] = statistics.median(values)
            out[key + "_min"], out[key + "_max"] = min(values), max(values)
    return out


def baselines(report: dict[str, Any]) -> list[str]:
    """The targets this server is compared with: the fixed ones, then earlier commits of it (``--baseline``)."""
    return [*BASELINES, *report.get("baselines", [])]


def target_names(report: dict[str, Any]) -> list[str]:
    """Every target of the run, the original four and earlier commits first, then the others in run order."""
    names = [*TARGET_ORDER, *report.get("baselines", []), *report.get("requested_targets", []),
             *report.get("targets", {}), *report.get("skipped_targets", {})]
    for info in report.get("scenarios", {}).values():
        names += list(info.get("results", {}))
    return list(dict.fromkeys(names))


def paired(info: dict[str, Any], ours_name: str, theirs_name: str) -> dict[str, Any] | None:
    """``ours_name`` ÷ ``theirs_name`` in one scenario: throughput as the median of the per-rep ratios (each pair
    measured back to back), its min and max, and the p50 ratio; None unless both ran the scenario."""
    ours, theirs = info["results"].get(ours_name, {}), info["results"].get(theirs_name, {})
    if not ours.get("reps") or not theirs.get("reps"):
        return None
    pairs = [a["tokens_per_s"] / b["tokens_per_s"] for a, b in zip(ours["reps"], theirs["reps"], strict=False)
             if b["tokens_per_s"]]
    if not pairs:
        return None
    p50_ours, p50_theirs = ours["summary"].get("p50_ms"), theirs["summary"].get("p50_ms")
    return {"throughput": statistics.median(pairs), "min": min(pairs), "max": max(pairs),
            "p50_ratio": p50_ours / p50_theirs if p50_ours and p50_theirs else None}


def ratios(report: dict[str, Any]) -> dict[str, Any]:
    """This server ÷ each baseline per scenario: throughput (median of paired reps), p50, goal met or not."""
    out: dict[str, Any] = {}
    for key, info in report["scenarios"].items():
        if not info["results"].get("bge-local", {}).get("reps"):
            continue
        for base in baselines(report):
            entry = paired(info, "bge-local", base)
            if entry is None:
                continue
            goal = GOALS.get(base, {}).get(key)
            if goal is not None:
                entry["goal"] = goal
                entry["met"] = entry["throughput"] >= goal
                if key == "a" and base == "seed-http":
                    entry["met"] = entry["met"] and (entry["p50_ratio"] or 2.0) <= 1.0
            out.setdefault(key, {})[base] = entry
    return out


def precision_ratios(report: dict[str, Any]) -> dict[str, Any]:
    """The precision comparison, per pair ``"A ÷ B"`` (target_specs.precision_pairs) and scenario."""
    out: dict[str, Any] = {}
    scenarios = report.get("scenarios", {}).values()
    ran = [n for n in target_names(report) if any(i.get("results", {}).get(n, {}).get("reps") for i in scenarios)]
    for ours, theirs in precision_pairs(ran):  # only targets that ran: "infinity" listed unrun hides its variants
        per = {key: e for key, info in report["scenarios"].items() if (e := paired(info, ours, theirs))}
        if per:
            out[f"{ours} ÷ {theirs}"] = per
    return out


def all_ratios(report: dict[str, Any]) -> dict[str, Any]:
    """Both ratio sets, from the scenarios alone (so a partial JSON gets them too)."""
    return {"ratios": ratios(report), "precision_ratios": precision_ratios(report)}


# ---- tables ---------------------------------------------------------------------------------------------------


def _f(x: float | None, digits: int = 0) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def _header(report: dict[str, Any]) -> list[str]:
    m = report["machine"]
    shape = report["models"]["shape"]
    return [f"Machine: {m['name']} ({m['cpu']}, {m['usable_cores']} usable cores, {m['memory_gb']} GB), device "
            f"{m['device']}; torch {m['torch']}, FlagEmbedding {m['FlagEmbedding']}; models: "
            f"{report['models']['size']} (hidden {shape['hidden']}, {shape['layers']} layers); "
            f"{report['reps']} reps{' (quick)' if report['quick'] else ''}; commit {m['commit']}.",
            "bge-local options: " + (" ".join(report["server_args"] + report.get("server_env", [])) or
                                     "the defaults") + ".",
            f"% peak: achieved model FLOP/s over {_f(report.get('peak_tflops'), 2)} TFLOP/s "
            f"({report.get('peak_source')}).", "",
            "CPU s/1k tok: CPU time of the target's processes per 1,000 tokens (steadier than wall time on a "
            "shared machine; the load generator's own CPU time is not in it).", ""]


def _result_row(report: dict[str, Any], key: str, info: dict[str, Any], name: str) -> str | None:
    res = info["results"].get(name)
    if res is None:
        if name in report["skipped_targets"]:
            return f"| ({key}) | {name} | – | not run: {report['skipped_targets'][name]} | | | | | | |"
        return None
    if "skipped" in res:
        return f"| ({key}) | {name} | – | unsupported: {res['skipped']} | | | | | | |"
    s = res["summary"]
    peak = report.get("peak_tflops")
    pct = f"{100 * s['tflops'] / peak:.1f}" if peak else "–"
    mem = res.get("peak_rss_mb")
    mem = f"{_f(mem)} (+{_f(res['peak_gpu_mb'])} GPU)" if res.get("peak_gpu_mb") else _f(mem)
    conc = "1 (loop)" if name == "in-process" else str(res["concurrency"])
    return (f"| ({key}) {info['title']} | {name} | {conc} | {_f(s['tokens_per_s'])} "
            f"({_f(s['tokens_per_s_min'])}–{_f(s['tokens_per_s_max'])}) | {_f(s['inputs_per_s'], 1)} | "
            f"{_f(s['p50_ms'], 1)} | {_f(s['p99_ms'], 1)} | {mem} | {pct} | "
            f"{_f(s.get('cpu_s_per_1k_tokens'), 2)} |")


def _ratio_cell(key: str, base: str, e: dict[str, Any] | None) -> str:
    if not e:
        return "–"
    cell = f"{e['throughput']:.2f}× ({e['min']:.2f}–{e['max']:.2f}), p50 {_f(e['p50_ratio'], 2)}×"
    if "goal" in e:
        cell += f"; goal ≥ {e['goal']}×{' at ≤ p50' if key == 'a' and base == 'seed-http' else ''}: " + (
            "**met**" if e["met"] else "**missed**")
    return cell


def tables(report: dict[str, Any]) -> str:
    lines = _header(report)
    lines += ["| scenario | target | conc. | tokens/s (min–max) | inputs/s | p50 ms | p99 ms | peak RSS MB | % peak "
              "| CPU s/1k tok |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for key, info in report["scenarios"].items():
        lines += [row for name in target_names(report) if (row := _result_row(report, key, info, name)) is not None]
    extra = report.get("baselines", [])
    if report.get("ratios"):
        lines += ["", "Throughput ratios, this server ÷ baseline (median of paired reps, min–max; p50 ratio below 1 "
                  "= lower latency); goal and whether it is met:", "",
                  "| scenario | vs seeds' way (HTTP) | vs in-process loop | vs Infinity |" +
                  "".join(f" vs {name} |" for name in extra), "|---|---|---|---|" + "---|" * len(extra)]
        for key, per in report["ratios"].items():
            cells = [_ratio_cell(key, base, per.get(base)) for base in baselines(report)]
            lines.append(f"| ({key}) {report['scenarios'][key]['title']} | " + " | ".join(cells) + " |")
    lines += precision_table(report)
    return "\n".join(lines)


def precision_table(report: dict[str, Any]) -> list[str]:
    """The precision comparison: one row per pair, one column per scenario; then what each target ran."""
    per_pair = report.get("precision_ratios") or {}
    if not per_pair:
        return []
    keys = list(report["scenarios"])
    lines = ["", "Precision comparison, throughput A ÷ B (median of paired reps, min–max; p50 ratio below 1 = lower "
             "latency). bge-local@p ÷ bge-local@fp32: what the precision buys this server; ÷ infinity@…: like for "
             "like, the same precision in Infinity's torch or ONNX Runtime engine; bge-local@auto ÷ Infinity's "
             "default: each out of the box.", "",
             "| A ÷ B | " + " | ".join(f"({k})" for k in keys) + " |", "|---|" + "---|" * len(keys)]
    for pair, per in per_pair.items():
        lines.append(f"| {pair} | " + " | ".join(_ratio_cell(k, "", per.get(k)) for k in keys) + " |")
    ran = []
    for name, entry in report.get("targets", {}).items():
        if entry.get("runs"):
            ran.append(f"{name}: " + ", ".join(f"{m} {r.get('precision') or r.get('dtype')}"
                                                for m, r in entry["runs"].items()))
        elif entry.get("engine") and name.startswith("infinity"):
            onnx = f", {entry['onnx_file']}" if entry.get("onnx_file") else ""
            done = [d for d in (entry.get("onnx_export") or {}).values() if d]
            if done and entry.get("onnx_file") == "model.onnx":
                onnx += " (graph optimised by ONNX Runtime at export)" if all(d["fp32_optimised"] for d in done) else \
                    " (plain export: ONNX Runtime could not optimise it)"
            elif done:
                onnx += f" ({done[0]['int8']})"
            ran.append(f"{name}: Infinity {entry.get('version', '')} {entry['engine']}{onnx}")
    if ran:
        lines += ["", "What each ran (this server: its /health; Infinity: its engine options):", ""]
        lines += [f"- {line}" for line in ran]
    return lines


# ---- the JSON file --------------------------------------------------------------------------------------------


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def write_report(report: dict[str, Any], out: Path | None) -> Path:
    """Write the run's JSON (default bench/results/<machine>-<date>[-quick][-N].json) and return its path."""
    if out is None:
        m = report["machine"]
        name = slug(m["gpus"][0].split(",")[0] if m["gpus"] else f"{m['cpu']}-{m['usable_cores']}c")
        stamp = dt.date.today().isoformat()
        quick = "-quick" if report["quick"] else ""
        out = BENCH / "results" / f"{name}-{stamp}{quick}.json"
        i = 2
        while out.exists():
            out = out.with_name(f"{name}-{stamp}{quick}-{i}.json")
            i += 1
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    return out
