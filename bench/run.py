"""bge-local's benchmark (issue 4): this server side by side with the seeds' way and Infinity.

    .venv/bin/python bench/run.py                  # CPU, small stand-in models, ~11 min on 2 idle cores
    .venv/bin/python bench/run.py --quick          # ~3 min smoke run
    .venv/bin/python bench/run.py --setup-infinity # also create Infinity's venv first (bench/setup_infinity.sh)
    .venv/bin/python bench/run.py --device cuda --size full   # on a GPU: bge-m3's real shape

Scenarios (a) Dify: concurrent one-text requests; (b) RAGFlow: 16 texts per request from several clients;
(c) long documents of 2k-8k tokens; (d) rerank, 1 query x 64 documents; (e) dense+sparse+ColBERT at once.
Targets: this server; the seeds' way (FlagEmbedding once per request) over HTTP and as a plain in-process
loop; Infinity from its own venv. All on the same model directory, the same inputs and the same device,
repetitions interleaved (A B C D, B C D A, ...) so machine noise hits every target alike. Prints a markdown
table and writes JSON to bench/results/<machine>-<date>.json. Method and results: docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contextlib

from loadgen import RunResult
from targets import BENCH, REPO, BgeLocal, HttpTarget, Infinity, InProcess, SeedHttp, Target
from workload import SCENARIOS, Scenario, TokenCounter, build_requests, warmup_requests

DEFAULT_INFINITY_VENV = BENCH / ".venv-infinity"
TARGET_ORDER = ["bge-local", "seed-http", "in-process", "infinity"]
# Dense bf16/fp16 tensor FLOP/s measured on these GPUs (docs/../spec performance.md: 800 TFLOP/s on H100/H200).
KNOWN_GPU_PEAK_TFLOPS = {"H100": 800.0, "H200": 800.0}


# ---- machine ---------------------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_names() -> list[str]:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        return [line.strip() for line in out.stdout.splitlines() if line.strip()]
    except (OSError, subprocess.TimeoutExpired):
        return []


def package_version(name: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info(device: str) -> dict[str, Any]:
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip()
    info = {
        "cpu": cpu_model(), "logical_cores": cores, "usable_cores": usable, "memory_gb": mem_gb,
        "device": device, "gpus": gpu_names() if device.startswith("cuda") else [],
        "python": platform.python_version(), "torch": package_version("torch"),
        "transformers": package_version("transformers"), "FlagEmbedding": package_version("FlagEmbedding"),
        "commit": commit, "platform": platform.platform(),
    }
    if info["gpus"]:
        info["name"] = info["gpus"][0].split(",")[0]
    else:
        info["name"] = f"{info['cpu']}, {usable} cores"
    return info


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# ---- memory ----------------------------------------------------------------------------------------------
def reset_peak(pids: list[int]) -> None:
    """Reset each process's peak RSS (VmHWM) so the next reading is this scenario's peak (Linux)."""
    for pid in pids:
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_rss_mb(pids: list[int]) -> float | None:
    total, seen = 0, False
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
                    seen = True
        except OSError:
            pass
    return round(total / 1024, 1) if seen else None


def cpu_seconds(pids: list[int]) -> float:
    try:
        import psutil
    except ImportError:
        return 0.0
    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except Exception:
            pass
    return total


class GpuMemorySampler:
    """Peak GPU memory per process, sampled from nvidia-smi while a run is in flight (GPU only)."""

    def __init__(self) -> None:
        self.peaks: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory",
                                      "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=5)
                for line in out.stdout.splitlines():
                    pid, used = (x.strip() for x in line.split(","))
                    self.peaks[int(pid)] = max(self.peaks.get(int(pid), 0.0), float(used))
            except Exception:
                pass
            self._stop.wait(0.5)

    def take(self, pids: list[int]) -> float | None:
        values = [self.peaks.pop(p) for p in pids if p in self.peaks]
        return round(sum(values), 1) if values else None


# ---- FLOPs -----------------------------------------------------------------------------------------------
def encoder_shape(model_dir: str) -> dict[str, int]:
    cfg = json.loads((Path(model_dir) / "config.json").read_text())
    return {"hidden": cfg["hidden_size"], "layers": cfg["num_hidden_layers"], "ffn": cfg["intermediate_size"]}


def flops_per_input(tokens: int, shape: dict[str, int]) -> float:
    """2 x non-embedding parameters per token plus attention (4 x L x hidden per token per layer),
    the rule of docs/performance.md (617 MFLOP per token at 128 tokens for bge-m3)."""
    h, layers, f = shape["hidden"], shape["layers"], shape["ffn"]
    params = layers * (4 * h * h + 4 * h + 2 * h * f + h + f + 4 * h)
    return tokens * (2 * params + 4 * tokens * h * layers)


# ---- statistics ------------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def rep_figures(result: RunResult, requests: list, flops: float, target_cpu_s: float) -> dict[str, Any]:
    tokens = sum(r.tokens for r in requests)
    inputs = sum(len(r.lengths) for r in requests)
    wall = result.wall_s or float("nan")
    return {
        "wall_s": round(result.wall_s, 4),
        "tokens_per_s": tokens / wall, "inputs_per_s": inputs / wall, "requests_per_s": len(requests) / wall,
        "p50_ms": (percentile(result.latencies, 0.5) or 0) * 1000,
        "p99_ms": (percentile(result.latencies, 0.99) or 0) * 1000,
        "mean_ms": statistics.fmean(result.latencies) * 1000 if result.latencies else None,
        "errors": result.errors, "first_error": result.first_error,
        "tflops": flops / wall / 1e12,
        "target_cpu_s": round(target_cpu_s, 3), "loadgen_cpu_s": round(result.loadgen_cpu_s, 3),
        "cpu_s_per_1k_tokens": 1000 * target_cpu_s / tokens,
        "response_mb": round(result.response_bytes / 2**20, 2),
    }


def summarise(reps: list[dict[str, Any]]) -> dict[str, Any]:
    good = [r for r in reps if not r["errors"]] or reps
    out: dict[str, Any] = {}
    for key in ("tokens_per_s", "inputs_per_s", "requests_per_s", "p50_ms", "p99_ms", "tflops", "target_cpu_s",
                "loadgen_cpu_s", "cpu_s_per_1k_tokens"):
        values = [r[key] for r in good if r.get(key) is not None]
        if values:
            out[key] = statistics.median(values)
            out[key + "_min"], out[key + "_max"] = min(values), max(values)
    return out


# ---- the run ---------------------------------------------------------------------------------------------
def ensure_models(size: str, models_dir: Path | None) -> Path:
    directory = models_dir or (BENCH / ".models" / size)
    if not (directory / "bge-m3" / "config.json").exists() or not (
            directory / "bge-reranker-v2-m3" / "config.json").exists():
        print(f"building {size} stand-in models in {directory} ...", flush=True)
        subprocess.run([sys.executable, "-m", "local_server", "make-test-models", str(directory), "--size", size],
                       cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return directory


def infinity_available(venv: Path) -> bool:
    return (venv / "bin" / "infinity_emb").exists()


def make_targets(args: argparse.Namespace, embedder: str, reranker: str, log_dir: Path) -> tuple[list[Target],
                                                                                                  dict[str, str]]:
    wanted = [t.strip() for t in args.targets.split(",") if t.strip()]
    skipped: dict[str, str] = {}
    targets: list[Target] = []
    common = (embedder, reranker, args.device, log_dir)
    for name in TARGET_ORDER:
        if name not in wanted:
            continue
        if name == "bge-local":
            env = dict(item.split("=", 1) for item in args.server_env)
            targets.append(BgeLocal(*common, extra_args=args.server_arg, extra_env=env))
        elif name == "seed-http":
            targets.append(SeedHttp(*common))
        elif name == "in-process":
            targets.append(InProcess(*common))
        elif name == "infinity":
            if args.no_infinity:
                skipped[name] = "turned off (--no-infinity)"
            elif not infinity_available(args.infinity_venv):
                skipped[name] = (f"not installed in {args.infinity_venv} (run bench/setup_infinity.sh or pass "
                                 "--setup-infinity)")
            else:
                targets.append(Infinity(*common, venv=args.infinity_venv))
    return targets, skipped


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    if args.setup_infinity and not infinity_available(args.infinity_venv):
        env = {**os.environ, "INFINITY_VENV": str(args.infinity_venv)}
        subprocess.run(["bash", str(BENCH / "setup_infinity.sh")], cwd=REPO, env=env, check=True)
    models = ensure_models(args.size, args.models_dir)
    embedder, reranker = str(models / "bge-m3"), str(models / "bge-reranker-v2-m3")
    counter = TokenCounter(embedder)
    shape = encoder_shape(embedder)
    machine = machine_info(args.device)
    print(f"machine: {machine['name']} | device {args.device} | torch {machine['torch']} | "
          f"models {models} ({args.size}: hidden {shape['hidden']}, {shape['layers']} layers)", flush=True)

    log_dir = Path(tempfile.mkdtemp(prefix="bge-bench-logs-"))
    targets, skipped = make_targets(args, embedder, reranker, log_dir)
    for name, why in skipped.items():
        print(f"skipping {name}: {why}", flush=True)
    gpu_sampler = GpuMemorySampler() if args.device.startswith("cuda") else None
    report: dict[str, Any] = {
        "benchmark": "bge-local issue 4", "date": dt.datetime.now().isoformat(timespec="seconds"),
        "quick": args.quick, "reps": args.reps, "scale": args.scale, "machine": machine,
        "models": {"dir": str(models), "size": args.size, "shape": shape}, "server_args": args.server_arg,
        "server_env": args.server_env,
        "targets": {}, "skipped_targets": skipped, "scenarios": {},
    }
    started = time.perf_counter()
    try:
        for target in targets:
            print(f"starting {target.name} ...", end=" ", flush=True)
            target.start()
            print(f"ready in {target.startup_s:.1f} s", flush=True)
            entry: dict[str, Any] = {"label": target.label, "startup_s": round(target.startup_s or 0, 2),
                                     "idle_rss_mb": None}
            pids = target.pids()
            reset_peak(pids)
            entry["idle_rss_mb"] = peak_rss_mb(pids)
            if isinstance(target, Infinity):
                entry["version"] = target.version
                rng = random.Random(7)
                long_text = counter.text_of(rng, 3000)
                target.truncating = target.truncates_at(long_text, long_text[: len(long_text) // 3])
                entry["truncates_long_inputs"] = target.truncating
            if isinstance(target, InProcess):
                entry["matmul_gflops"] = target.matmul_gflops
            report["targets"][target.name] = entry
        peak, peak_source = peak_flops(args, targets)
        report["peak_tflops"], report["peak_source"] = peak, peak_source

        for key in args.scenarios:
            scenario = SCENARIOS[key]
            report["scenarios"][key] = run_scenario(scenario, targets, counter, shape, args, gpu_sampler)
        report["total_s"] = round(time.perf_counter() - started, 1)
    except BaseException:
        print(f"\nthe targets' logs are in {log_dir}", file=sys.stderr)
        raise
    else:
        shutil.rmtree(log_dir, ignore_errors=True)
    finally:
        for target in targets:
            target.stop()
    report["ratios"] = ratios(report)
    return report


def peak_flops(args: argparse.Namespace, targets: list[Target]) -> tuple[float | None, str]:
    if args.peak_tflops:
        return args.peak_tflops, "--peak-tflops"
    if args.device.startswith("cuda"):
        names = " ".join(gpu_names())
        for key, value in KNOWN_GPU_PEAK_TFLOPS.items():
            if key in names:
                return value, f"{key} dense bf16/fp16 as measured in the project's performance spec"
    for t in targets:
        if isinstance(t, InProcess) and t.matmul_gflops:
            what = "fp16 4096^3" if args.device.startswith("cuda") else "fp32 1024^3"
            return t.matmul_gflops / 1000, f"measured {what} matmul rate on this device (torch)"
    return None, "unknown"


def run_scenario(scenario: Scenario, targets: list[Target], counter: TokenCounter, shape: dict[str, int],
                 args: argparse.Namespace, gpu_sampler: GpuMemorySampler | None) -> dict[str, Any]:
    n = scenario.n_requests(args.quick, args.scale)
    requests = build_requests(scenario, counter, n)
    warm = warmup_requests(scenario, counter, min(scenario.clients, 4))
    flops = sum(flops_per_input(length, shape) for r in requests for length in r.lengths)
    lengths = [length for r in requests for length in r.lengths]
    info: dict[str, Any] = {
        "title": scenario.title, "why": scenario.why, "kind": scenario.kind, "clients": scenario.clients,
        "requests_per_rep": n, "inputs_per_request": scenario.texts_per_request, "outputs": scenario.outputs,
        "tokens_per_rep": sum(r.tokens for r in requests), "input_tokens_min": min(lengths),
        "input_tokens_max": max(lengths), "input_tokens_mean": round(statistics.fmean(lengths), 1),
        "flops_per_rep": flops, "results": {},
    }
    print(f"\n[{scenario.key}] {scenario.title}: {n} requests x {scenario.texts_per_request} inputs "
          f"({info['input_tokens_min']}-{info['input_tokens_max']} tokens, {info['tokens_per_rep']} per rep), "
          f"{scenario.clients} clients, {args.reps} reps", flush=True)
    active = []
    for target in targets:
        why = target.unsupported(scenario)
        if why:
            info["results"][target.name] = {"skipped": why}
            print(f"  {target.name}: skipped ({why})", flush=True)
            continue
        reset_peak(target.pids())
        warmup = asyncio.run(target.run(scenario, warm, validate=isinstance(target, HttpTarget)))
        if warmup.errors:
            raise RuntimeError(f"{target.name} failed the warm-up of ({scenario.key}): {warmup.first_error}")
        active.append(target)
        info["results"][target.name] = {"concurrency": target.concurrency(scenario), "reps": []}
    for rep in range(args.reps):
        order = active[rep % len(active):] + active[: rep % len(active)]
        for target in order:
            pids = target.pids()
            cpu0 = cpu_seconds(pids)
            if gpu_sampler:
                gpu_sampler.start()
            result = asyncio.run(target.run(scenario, requests))
            if gpu_sampler:
                gpu_sampler.stop()
            figures = rep_figures(result, requests, flops, cpu_seconds(pids) - cpu0)
            info["results"][target.name]["reps"].append(figures)
            status = f"  {figures['errors']} ERRORS: {result.first_error}" if figures["errors"] else ""
            print(f"  rep {rep + 1} {target.name:<11} {figures['tokens_per_s']:>9.0f} tokens/s  "
                  f"p50 {figures['p50_ms']:>8.1f} ms  p99 {figures['p99_ms']:>8.1f} ms{status}", flush=True)
    for target in active:
        entry = info["results"][target.name]
        entry["summary"] = summarise(entry["reps"])
        entry["peak_rss_mb"] = peak_rss_mb(target.pids())
        if gpu_sampler:
            entry["peak_gpu_mb"] = gpu_sampler.take(target.pids())
    return info


# ---- ratios and targets ----------------------------------------------------------------------------------
GOALS = {"seed-http": {"a": 3.0}, "in-process": {k: 1.0 for k in "bcde"}, "infinity": {k: 1.2 for k in "abcde"}}


def ratios(report: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, info in report["scenarios"].items():
        ours = info["results"].get("bge-local", {})
        if "reps" not in ours:
            continue
        out[key] = {}
        for base in ("seed-http", "in-process", "infinity"):
            theirs = info["results"].get(base, {})
            if "reps" not in theirs:
                continue
            paired = [a["tokens_per_s"] / b["tokens_per_s"] for a, b in zip(ours["reps"], theirs["reps"],
                                                                              strict=False) if b["tokens_per_s"]]
            entry: dict[str, Any] = {
                "throughput": statistics.median(paired), "min": min(paired), "max": max(paired),
                "p50_ratio": ours["summary"]["p50_ms"] / theirs["summary"]["p50_ms"],
            }
            goal = GOALS.get(base, {}).get(key)
            if goal is not None:
                entry["goal"] = goal
                entry["met"] = entry["throughput"] >= goal
                if key == "a" and base == "seed-http":
                    entry["met"] = entry["met"] and entry["p50_ratio"] <= 1.0
            out[key][base] = entry
    return out


# ---- output ----------------------------------------------------------------------------------------------
def _f(x: float | None, digits: int = 0) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def tables(report: dict[str, Any]) -> str:
    m = report["machine"]
    shape = report["models"]["shape"]
    lines = [f"Machine: {m['name']} ({m['cpu']}, {m['usable_cores']} usable cores, {m['memory_gb']} GB), device "
             f"{m['device']}; torch {m['torch']}, FlagEmbedding {m['FlagEmbedding']}; models: "
             f"{report['models']['size']} (hidden {shape['hidden']}, {shape['layers']} layers); "
             f"{report['reps']} reps{' (quick)' if report['quick'] else ''}; commit {m['commit']}.",
             "bge-local options: " + (" ".join(report["server_args"] + report.get("server_env", [])) or
                                      "the defaults") + ".",
             f"% peak: achieved model FLOP/s over {_f(report.get('peak_tflops'), 2)} TFLOP/s "
             f"({report.get('peak_source')}).", "",
             "CPU s/1k tok: CPU time of the target's processes per 1,000 tokens (steadier than wall time on a "
             "shared machine; the load generator's own CPU time is not in it).", "",
             "| scenario | target | conc. | tokens/s (min–max) | inputs/s | p50 ms | p99 ms | peak RSS MB | % peak "
             "| CPU s/1k tok |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for key, info in report["scenarios"].items():
        for name in TARGET_ORDER:
            res = info["results"].get(name)
            if res is None:
                if name in report["skipped_targets"]:
                    lines.append(f"| ({key}) | {name} | – | not run: {report['skipped_targets'][name]} | | | | | | |")
                continue
            if "skipped" in res:
                lines.append(f"| ({key}) | {name} | – | unsupported: {res['skipped']} | | | | | | |")
                continue
            s = res["summary"]
            peak = report.get("peak_tflops")
            pct = f"{100 * s['tflops'] / peak:.1f}" if peak else "–"
            mem = res.get("peak_rss_mb")
            mem = f"{_f(mem)} (+{_f(res['peak_gpu_mb'])} GPU)" if res.get("peak_gpu_mb") else _f(mem)
            conc = "1 (loop)" if name == "in-process" else str(res["concurrency"])
            lines.append(
                f"| ({key}) {info['title']} | {name} | {conc} | {_f(s['tokens_per_s'])} "
                f"({_f(s['tokens_per_s_min'])}–{_f(s['tokens_per_s_max'])}) | {_f(s['inputs_per_s'], 1)} | "
                f"{_f(s['p50_ms'], 1)} | {_f(s['p99_ms'], 1)} | {mem} | {pct} | "
                f"{_f(s.get('cpu_s_per_1k_tokens'), 2)} |")
    lines += ["", "Throughput ratios, this server ÷ baseline (median of paired reps, min–max; p50 ratio below 1 = "
              "lower latency); goal and whether it is met:", "",
              "| scenario | vs seeds' way (HTTP) | vs in-process loop | vs Infinity |", "|---|---|---|---|"]
    for key, per in report["ratios"].items():
        cells = []
        for base in ("seed-http", "in-process", "infinity"):
            e = per.get(base)
            if not e:
                cells.append("–")
                continue
            cell = f"{e['throughput']:.2f}× ({e['min']:.2f}–{e['max']:.2f}), p50 {e['p50_ratio']:.2f}×"
            if "goal" in e:
                cell += f"; goal ≥ {e['goal']}×{' at ≤ p50' if key == 'a' and base == 'seed-http' else ''}: " + (
                    "**met**" if e["met"] else "**missed**")
            cells.append(cell)
        lines.append(f"| ({key}) {report['scenarios'][key]['title']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(report: dict[str, Any], out: Path | None) -> Path:
    if out is None:
        m = report["machine"]
        name = slug(m["gpus"][0].split(",")[0] if m["gpus"] else f"{m['cpu']}-{m['usable_cores']}c")
        stamp = dt.date.today().isoformat()
        out = BENCH / "results" / f"{name}-{stamp}{'-quick' if report['quick'] else ''}.json"
        i = 2
        while out.exists():
            out = out.with_name(f"{name}-{stamp}{'-quick' if report['quick'] else ''}-{i}.json")
            i += 1
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--quick", action="store_true", help="smoke run: fewer requests, 2 reps (~3 min on 2 cores)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (every target uses the same device)")
    p.add_argument("--size", choices=["tiny", "small", "full"], default=None,
                   help="stand-in model size (default: small on CPU, full on GPU)")
    p.add_argument("--models-dir", type=Path, help="use DIR/bge-m3 and DIR/bge-reranker-v2-m3 (e.g. real weights)")
    p.add_argument("--scenarios", default="abcde", help="which scenarios, e.g. 'ad' (default: abcde)")
    p.add_argument("--targets", default=",".join(TARGET_ORDER), help="comma-separated subset of " +
                   ", ".join(TARGET_ORDER))
    p.add_argument("--reps", type=int, default=None, help="repetitions per scenario (default 5; quick 2)")
    p.add_argument("--scale", type=float, default=None,
                   help="multiply requests per rep (default 1 on CPU, 8 on a GPU)")
    p.add_argument("--server-arg", action="append", default=[],
                   help="extra option for bge-local serve, e.g. --server-arg=--batch-wait-ms=5 (repeatable)")
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                   help="environment variable for bge-local only, e.g. OMP_NUM_THREADS=1 (repeatable)")
    p.add_argument("--infinity-venv", type=Path, default=Path(os.environ.get("INFINITY_VENV",
                                                                             DEFAULT_INFINITY_VENV)))
    p.add_argument("--setup-infinity", action="store_true", help="create Infinity's venv first if it is missing")
    p.add_argument("--no-infinity", action="store_true", help="skip Infinity")
    p.add_argument("--peak-tflops", type=float, help="the device's peak for the %% peak column")
    p.add_argument("--show", type=Path, metavar="JSON", help="print the tables of an earlier run's JSON and exit")
    p.add_argument("--out", type=Path, help="JSON path (default bench/results/<machine>-<date>.json)")
    args = p.parse_args(argv)
    gpu = args.device.startswith("cuda")
    args.size = args.size or ("full" if gpu else "small")
    args.reps = args.reps or (2 if args.quick else 5)
    args.scale = args.scale or (8.0 if gpu else 1.0)
    args.scenarios = [k for k in args.scenarios if k in SCENARIOS]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.show:
        print(tables(json.loads(args.show.read_text())))
        return 0
    report = run_benchmark(args)
    text = tables(report)
    path = write_report(report, args.out)
    print("\n" + text)
    print(f"\nwrote {path} (total {report.get('total_s')} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
