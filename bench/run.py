"""bge-local's benchmark (issue 4): this server side by side with the seeds' way and Infinity.

    .venv/bin/python bench/run.py                  # CPU, small stand-in models, ~11 min on 2 idle cores
    .venv/bin/python bench/run.py --quick          # ~3 min smoke run
    .venv/bin/python bench/run.py --setup-infinity # also create Infinity's venv first (bench/setup_infinity.sh)
    .venv/bin/python bench/run.py --device cuda --size full   # on a GPU: bge-m3's real shape
    .venv/bin/python bench/run.py --targets precision --setup-infinity --reps 3   # the precisions (issue 23)

Scenarios (a) Dify: concurrent one-text requests; (b) RAGFlow: 16 texts per request from several clients;
(c) long documents of 2k-8k tokens; (d) rerank, 1 query x 64 documents; (e) dense+sparse+ColBERT at once.
Targets: this server; the seeds' way (FlagEmbedding once per request) over HTTP and as a plain in-process
loop; Infinity from its own venv. The precision comparison adds this server at each --precision
(bge-local@fp32|bf16|int8|auto) and Infinity at each of its CPU precisions (infinity@torch-fp32|torch-bf16|
torch-int8|onnx-fp32|onnx-int8; the ONNX models are exported offline once, see precision_targets.py); the
preset ``--targets precision`` names them all (target_specs.py). A target that can't start, can't run a
scenario or fails its warm-up is skipped with the reason (and the exit status is 1 if any failed). All on the
same model directory, the same inputs and the same device, repetitions interleaved (A B C D, B C D A, ...) so
machine noise hits every target alike. Prints a markdown table and writes JSON to
bench/results/<machine>-<date>.json. Method and results: docs/performance.md.

This file runs the scenarios against the targets and holds the command line; machine.py says what it ran on,
measure.py samples the targets' processes (RSS, CPU, GPU memory), flops.py holds the FLOPs model and the device
peak, report.py turns reps into figures, ratios and tables; targets.py, workload.py and loadgen.py as named.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from flops import encoder_shape, flops_per_input, peak_flops
from machine import machine_info
from measure import GpuMemorySampler, cpu_seconds, peak_rss_mb, reset_peak
from precision_targets import BgeLocalPrecision, InfinityAt, ensure_onnx_models, infinity_models
from report import all_ratios, rep_figures, summarise, tables, write_report
from target_specs import INFINITY_VARIANTS, KNOWN, PRESETS, TARGET_ORDER, parse_targets, split
from targets import BENCH, REPO, BgeLocal, BgeLocalAt, HttpTarget, Infinity, InProcess, SeedHttp, Target
from workload import SCENARIOS, Scenario, TokenCounter, build_requests, warmup_requests

DEFAULT_INFINITY_VENV = BENCH / ".venv-infinity"


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


def infinity_has_onnx(venv: Path) -> bool:
    """Whether the venv has the optimum extra (venvs made before the ONNX variants lack it)."""
    return any(venv.glob("lib/python*/site-packages/optimum/onnxruntime/__init__.py"))


def export_tree(rev: str, parent: Path) -> Path:
    """The files of commit ``rev`` (``git archive``) in a fresh folder under ``parent``: no worktree to clean."""
    tree = parent / f"tree-{rev.replace('/', '_')}"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", "--format=tar", rev], cwd=REPO, check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def make_targets(args: argparse.Namespace, models: Path, log_dir: Path) -> tuple[list[Target], dict[str, str]]:
    """The targets to start, in the order asked for, and the ones that can't run here with the reason."""
    embedder, reranker = str(models / "bge-m3"), str(models / "bge-reranker-v2-m3")
    skipped: dict[str, str] = {}
    targets: list[Target] = []
    common = (embedder, reranker, args.device, log_dir)
    server = {"extra_args": args.server_arg, "extra_env": dict(item.split("=", 1) for item in args.server_env)}
    onnx: tuple[Path | None, str] | None = None  # exported once, for the first onnx-* target
    for name in args.targets:
        family, variant = split(name)
        if name == "bge-local":
            targets.append(BgeLocal(*common, **server))
            targets += [BgeLocalAt(*common, **server, rev=rev, tree=export_tree(rev, log_dir)) for rev in args.baseline]
        elif family == "bge-local":
            targets.append(BgeLocalPrecision(*common, **server, precision=variant))
        elif name == "seed-http":
            targets.append(SeedHttp(*common))
        elif name == "in-process":
            targets.append(InProcess(*common))
        elif family == "infinity":
            why = infinity_unavailable(args)
            spec = INFINITY_VARIANTS.get(variant or "")
            if not why and spec is not None and spec.onnx is not None:
                if args.device.startswith("cuda"):
                    why = "Infinity's ONNX variants are CPU peers (its venv has ONNX Runtime for the CPU)"
                elif not infinity_has_onnx(args.infinity_venv):
                    why = "Infinity's venv has no optimum/ONNX Runtime (run bench/setup_infinity.sh again)"
                else:
                    onnx = onnx or ensure_onnx_models(args.infinity_venv, models, log_dir)
                    why = onnx[1]
            if why:
                skipped[name] = why
                continue
            paths = infinity_models(name, embedder, reranker, onnx[0] if onnx else None)
            rest = (args.device, log_dir)
            targets.append(InfinityAt(*paths, *rest, venv=args.infinity_venv, variant=variant) if variant else
                           Infinity(*paths, *rest, venv=args.infinity_venv))
    return targets, skipped


def infinity_unavailable(args: argparse.Namespace) -> str:
    if args.no_infinity:
        return "turned off (--no-infinity)"
    if not infinity_available(args.infinity_venv):
        return f"not installed in {args.infinity_venv} (run bench/setup_infinity.sh or pass --setup-infinity)"
    return ""


def start_targets(targets: list[Target], report: dict[str, Any], counter: TokenCounter) -> list[Target]:
    """Start each target and note its idle figures; one that does not start (or fails its start-up probes) is
    skipped and listed under "failures", so the run's exit status says so; the others still run."""
    started: list[Target] = []
    for target in targets:
        print(f"starting {target.name} ...", end=" ", flush=True)
        try:
            report["targets"][target.name] = start_one(target, counter)
        except Exception as exc:  # any failure to start: skip this target, keep the others
            target.stop()
            report["targets"].pop(target.name, None)
            print(f"FAILED, skipped: {exc}", flush=True)
            report["skipped_targets"][target.name] = f"did not start: {start_failure(exc, target)}"
            report["failures"].append(f"{target.name}: did not start")
            continue
        print(f"ready in {target.startup_s:.1f} s", flush=True)
        started.append(target)
    return started


def start_failure(exc: Exception, target: Target) -> str:
    """One line on why a target did not start: the exception's first line and the last line of its log."""
    first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
    last = [line.strip() for line in target.log_tail().splitlines() if line.strip()][-1:]
    return (first + (f" ... {last[0]}" if last and last[0] not in first else ""))[:400]


def start_one(target: Target, counter: TokenCounter) -> dict[str, Any]:
    target.start()
    entry: dict[str, Any] = {"label": target.label, "startup_s": round(target.startup_s or 0, 2),
                             "idle_rss_mb": None}
    pids = target.pids()
    reset_peak(pids)
    entry["idle_rss_mb"] = peak_rss_mb(pids)
    if isinstance(target, Infinity):
        entry["version"] = target.version
        entry["engine"] = " ".join(target.engine_args())
        if isinstance(target, InfinityAt):
            entry.update(target.describe())
        rng = random.Random(7)
        long_text = counter.text_of(rng, 3000)
        target.truncating = target.truncates_at(long_text, long_text[: len(long_text) // 3])
        entry["truncates_long_inputs"] = target.truncating
    if isinstance(target, BgeLocalPrecision):
        entry["runs"] = target.runs
    if isinstance(target, InProcess):
        entry["matmul_gflops"] = target.matmul_gflops
    return entry


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    wants_onnx = any(name.startswith("infinity@onnx") for name in args.targets)
    if args.setup_infinity and (not infinity_available(args.infinity_venv) or
                                (wants_onnx and not infinity_has_onnx(args.infinity_venv))):
        env = {**os.environ, "INFINITY_VENV": str(args.infinity_venv)}
        subprocess.run(["bash", str(BENCH / "setup_infinity.sh")], cwd=REPO, env=env, check=True)
    models = ensure_models(args.size, args.models_dir)
    embedder = str(models / "bge-m3")
    counter = TokenCounter(embedder)
    shape = encoder_shape(embedder)
    machine = machine_info(args.device)
    print(f"machine: {machine['name']} | device {args.device} | torch {machine['torch']} | "
          f"models {models} ({args.size}: hidden {shape['hidden']}, {shape['layers']} layers)", flush=True)

    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="bge-bench-logs-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    targets, skipped = make_targets(args, models, log_dir)
    for name, why in skipped.items():
        print(f"skipping {name}: {why}", flush=True)
    gpu_sampler = GpuMemorySampler() if args.device.startswith("cuda") else None
    report: dict[str, Any] = {
        "benchmark": "bge-local issue 4", "date": dt.datetime.now().isoformat(timespec="seconds"),
        "quick": args.quick, "reps": args.reps, "scale": args.scale, "machine": machine,
        "models": {"dir": str(models), "size": args.size, "shape": shape}, "server_args": args.server_arg,
        "server_env": args.server_env, "baselines": [f"bge-local@{rev}" for rev in args.baseline],
        "requested_targets": args.targets, "targets": {}, "skipped_targets": skipped, "failures": [],
        "scenarios": {},
    }
    started = time.perf_counter()
    try:
        running = start_targets(targets, report, counter)
        peak, peak_source = peak_flops(args.device, args.peak_tflops, running)
        report["peak_tflops"], report["peak_source"] = peak, peak_source

        for key in args.scenarios:
            scenario = SCENARIOS[key]
            report["scenarios"][key] = run_scenario(scenario, running, counter, shape, args, gpu_sampler,
                                                    report["failures"])
            if args.out:  # what is measured so far, in case the run is stopped before the end
                write_report({**report, "partial": True}, args.out)
        report["total_s"] = round(time.perf_counter() - started, 1)
    except BaseException:
        print(f"\nthe targets' logs are in {log_dir}", file=sys.stderr)
        raise
    else:
        if args.log_dir is None and not report["failures"]:
            shutil.rmtree(log_dir, ignore_errors=True)
        elif report["failures"]:
            print(f"\nthe targets' logs are in {log_dir}", file=sys.stderr)
    finally:
        for target in targets:
            target.stop()
    report.update(all_ratios(report))
    return report


def run_scenario(scenario: Scenario, targets: list[Target], counter: TokenCounter, shape: dict[str, int],
                 args: argparse.Namespace, gpu_sampler: GpuMemorySampler | None,
                 failures: list[str] | None = None) -> dict[str, Any]:
    """Warm every target up, then run the interleaved reps on those that took the warm-up. A target that can't
    run the scenario (``unsupported``) or fails its warm-up is skipped here, with the reason; a scenario every
    target skips has no reps and no figures."""
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
        try:
            warmup = asyncio.run(target.run(scenario, warm, validate=isinstance(target, HttpTarget)))
            problem = f"{warmup.errors} errors, first: {warmup.first_error}" if warmup.errors else ""
        except Exception as exc:  # e.g. the target's process died: skip it here, keep the others
            problem = f"{type(exc).__name__}: {str(exc).strip()[:300]}"
        if problem:
            info["results"][target.name] = {"skipped": f"failed the warm-up ({problem})"}
            print(f"  {target.name}: FAILED the warm-up, skipped ({problem})", flush=True)
            if failures is not None:
                failures.append(f"{target.name}: failed the warm-up of ({scenario.key})")
            continue
        active.append(target)
        info["results"][target.name] = {"concurrency": target.concurrency(scenario), "reps": []}
    if not active:
        print("  no target runs this scenario", flush=True)
    for rep in range(args.reps if active else 0):
        order = active[rep % len(active):] + active[: rep % len(active)] if active else []
        for target in order:
            pids = target.pids()
            cpu0 = cpu_seconds(pids)
            if gpu_sampler:
                gpu_sampler.start()
            try:
                result = asyncio.run(target.run(scenario, requests))
            except Exception as exc:  # the target died mid-rep (say, killed for memory): drop it, keep the run
                problem = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}"
                info["results"][target.name] = {"skipped": f"failed in rep {rep + 1} ({problem})"}
                print(f"  rep {rep + 1} {target.name:<20} FAILED, dropped ({problem})", flush=True)
                if failures is not None:
                    failures.append(f"{target.name}: failed in rep {rep + 1} of ({scenario.key})")
                active.remove(target)
                continue
            finally:
                if gpu_sampler:
                    gpu_sampler.stop()
            figures = rep_figures(result, requests, flops, cpu_seconds(pids) - cpu0)
            info["results"][target.name]["reps"].append(figures)
            status = f"  {figures['errors']} ERRORS: {result.first_error}" if figures["errors"] else ""
            print(f"  rep {rep + 1} {target.name:<20} {figures['tokens_per_s']:>9.0f} tokens/s  "
                  f"p50 {figures['p50_ms']:>8.1f} ms  p99 {figures['p99_ms']:>8.1f} ms{status}", flush=True)
    for target in active:
        entry = info["results"][target.name]
        entry["summary"] = summarise(entry["reps"])
        entry["peak_rss_mb"] = peak_rss_mb(target.pids())
        if gpu_sampler:
            entry["peak_gpu_mb"] = gpu_sampler.take(target.pids())
    return info


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--quick", action="store_true", help="smoke run: fewer requests, 2 reps (~3 min on 2 cores)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (every target uses the same device)")
    p.add_argument("--size", choices=["tiny", "small", "full"], default=None,
                   help="stand-in model size (default: small on CPU, full on GPU)")
    p.add_argument("--models-dir", type=Path, help="use DIR/bge-m3 and DIR/bge-reranker-v2-m3 (e.g. real weights)")
    p.add_argument("--scenarios", default="abcde", help="which scenarios, e.g. 'ad' (default: abcde)")
    p.add_argument("--targets", default=",".join(TARGET_ORDER), type=_targets,
                   help="comma-separated targets, in the order to start them: " + ", ".join(KNOWN) +
                   "; presets: " + "; ".join(f"{k} = {','.join(v)}" for k, v in PRESETS.items()) +
                   " (default: %(default)s)")
    p.add_argument("--reps", type=int, default=None, help="repetitions per scenario (default 5; quick 2)")
    p.add_argument("--scale", type=float, default=None,
                   help="multiply requests per rep (default 1 on CPU, 8 on a GPU)")
    p.add_argument("--server-arg", action="append", default=[],
                   help="extra option for bge-local serve, e.g. --server-arg=--batch-wait-ms=5 (repeatable)")
    p.add_argument("--baseline", action="append", default=[], metavar="REV",
                   help="also run this server as it was at commit REV (same packages and options), side by side "
                        "with this checkout; ratios this ÷ REV (repeatable)")
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                   help="environment variable for bge-local only, e.g. OMP_NUM_THREADS=1 (repeatable)")
    p.add_argument("--infinity-venv", type=Path, default=Path(os.environ.get("INFINITY_VENV",
                                                                             DEFAULT_INFINITY_VENV)))
    p.add_argument("--setup-infinity", action="store_true", help="create Infinity's venv first if it is missing")
    p.add_argument("--no-infinity", action="store_true", help="skip Infinity")
    p.add_argument("--peak-tflops", type=float, help="the device's peak for the %% peak column")
    p.add_argument("--show", type=Path, metavar="JSON", help="print the tables of an earlier run's JSON and exit")
    p.add_argument("--out", type=Path, help="JSON path (default bench/results/<machine>-<date>.json); "
                   "given, it is also rewritten after every scenario (\"partial\": true until the end)")
    p.add_argument("--log-dir", type=Path, help="keep the servers' logs in DIR (default: a temporary folder, "
                   "removed after a run without errors)")
    args = p.parse_args(argv)
    gpu = args.device.startswith("cuda")
    args.size = args.size or ("full" if gpu else "small")
    args.reps = args.reps or (2 if args.quick else 5)
    args.scale = args.scale or (8.0 if gpu else 1.0)
    args.scenarios = [k for k in args.scenarios if k in SCENARIOS]
    return args


def _targets(text: str) -> list[str]:
    try:
        return parse_targets(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    """``timeout`` sends SIGTERM: leave through the ``finally`` blocks, so the servers are stopped."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    args = parse_args(argv)
    if args.show:
        print(show(json.loads(args.show.read_text())))
        return 0
    report = run_benchmark(args)
    text = tables(report)
    path = write_report(report, args.out)
    print("\n" + text)
    print(f"\nwrote {path} (total {report.get('total_s')} s)")
    for failure in report["failures"]:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if report["failures"] else 0


def show(report: dict[str, Any]) -> str:
    """An earlier run's tables, its ratios computed afresh: a partial JSON (written after each scenario, with
    no ratios yet) prints as well as a finished one."""
    report = {**report, **all_ratios(report)}
    note = "(partial run: the scenarios measured before it stopped)\n\n" if report.get("partial") else ""
    return note + tables(report)


if __name__ == "__main__":
    sys.exit(main())
