"""bench/run.py's target names and skip logic, without starting a server or a peer: ``--targets`` parsing and
presets, the command lines of the precision targets, what is skipped (turned off, not installed, unsupported
scenario, failed warm-up) without crashing the run, and ``--show`` on a partial JSON (ratios computed afresh)."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def bench() -> Any:
    """bench/run.py as a module (bench/ is a folder of scripts that import each other by name)."""
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("run")
    finally:
        sys.path.remove(str(BENCH))


def test_target_names_presets_and_order(bench: Any) -> None:
    specs = sys.modules["target_specs"]
    assert specs.parse_targets("bge-local, infinity,bge-local") == ["bge-local", "infinity"]
    precision = specs.parse_targets("precision")
    assert precision[:4] == ["bge-local@fp32", "bge-local@bf16", "bge-local@int8", "bge-local@auto"]
    assert {"infinity@torch-fp32", "infinity@torch-bf16", "infinity@torch-int8", "infinity@onnx-fp32",
            "infinity@onnx-int8"} == set(precision[4:])
    assert specs.parse_targets("bge-local@int8,precision")[0] == "bge-local@int8"  # the order asked for
    assert bench.parse_args([]).targets == ["bge-local", "seed-http", "in-process", "infinity"]
    for bad in ("bge-local@fp16", "infinity@onnx-bf16", "ollama", " , "):
        with pytest.raises(ValueError):
            specs.parse_targets(bad)
        with pytest.raises(SystemExit):
            bench.parse_args(["--targets", bad])


def test_precision_pairs_are_like_for_like(bench: Any) -> None:
    specs = sys.modules["target_specs"]
    pairs = specs.precision_pairs(specs.parse_targets("precision"))
    assert ("bge-local@int8", "bge-local@fp32") in pairs
    assert ("bge-local@int8", "infinity@onnx-int8") in pairs and ("bge-local@int8", "infinity@torch-int8") in pairs
    assert ("bge-local@bf16", "infinity@torch-bf16") in pairs
    assert ("bge-local@fp32", "infinity@onnx-fp32") in pairs
    assert ("bge-local@auto", "infinity@torch-fp32") in pairs
    assert not [p for p in pairs if specs.precision_of(p[1]) not in (specs.precision_of(p[0]), "fp32")]
    assert specs.precision_pairs(["bge-local", "infinity"]) == []  # the plain run has its own ratio table
    with_seeds = specs.precision_pairs(specs.parse_targets("seed-http,precision"))
    assert ("bge-local@auto", "seed-http") in with_seeds and ("bge-local@fp32", "seed-http") in with_seeds
    assert ("bge-local@int8", "seed-http") not in with_seeds


def _args(bench: Any, targets: str, tmp_path: Path, **extra: Any) -> argparse.Namespace:
    args = bench.parse_args(["--targets", targets, "--quick", "--reps", "1", "--size", "tiny"])
    args.infinity_venv = extra.get("venv", tmp_path / "no-venv")
    args.no_infinity = extra.get("no_infinity", False)
    return args


def test_precision_targets_command_lines_and_skips(bench: Any, tmp_path: Path) -> None:
    models = tmp_path / "models"
    targets, skipped = bench.make_targets(_args(bench, "precision", tmp_path), models, tmp_path)
    assert [t.name for t in targets] == ["bge-local@fp32", "bge-local@bf16", "bge-local@int8", "bge-local@auto"]
    for target in targets:
        command = target.command()
        assert command[1:4] == ["-m", "local_server", "serve"]
        assert command[-2:] == ["--precision", target.name.split("@")[1]]
        assert str(models / "bge-m3") in command and str(models / "bge-reranker-v2-m3") in command
    assert set(skipped) == {n for n in sys.modules["target_specs"].PRECISION_TARGETS if n.startswith("infinity")}
    assert all("not installed" in why for why in skipped.values())
    _, skipped = bench.make_targets(_args(bench, "infinity@onnx-int8", tmp_path, no_infinity=True), models, tmp_path)
    assert skipped == {"infinity@onnx-int8": "turned off (--no-infinity)"}


def test_infinity_variants_command_lines(bench: Any, tmp_path: Path) -> None:
    peers = sys.modules["precision_targets"]
    onnx = tmp_path / "onnx"
    for variant, engine, model_dir in (("torch-bf16", ["--engine", "torch", "--dtype", "bfloat16"], "m"),
                                       ("torch-int8", ["--engine", "torch", "--dtype", "int8"], "m"),
                                       ("onnx-fp32", ["--engine", "optimum", "--onnx-disable-optimize"], "fp32"),
                                       ("onnx-int8", ["--engine", "optimum", "--onnx-disable-optimize"], "int8")):
        embedder, reranker = peers.infinity_models(f"infinity@{variant}", "m/bge-m3", "m/bge-reranker-v2-m3", onnx)
        target = peers.InfinityAt(embedder, reranker, "cpu", tmp_path, venv=tmp_path / "venv", variant=variant)
        command = target.command()
        assert " ".join(engine) in " ".join(command)
        assert Path(embedder).parent.name == model_dir if model_dir != "m" else embedder == "m/bge-m3"
        via_shim = command[1].endswith("peers/infinity_onnx.py")
        assert via_shim == variant.startswith("onnx")


def test_scenarios_every_target_skips_do_not_crash(bench: Any, tiny_models: Path, tmp_path: Path) -> None:
    """(e) no Infinity variant can run (dense only); (d) an unstarted server fails its warm-up: both are skipped
    with the reason, the run carries on, and the figures and tables come out without any reps."""
    workload = sys.modules["workload"]
    peers = sys.modules["precision_targets"]
    embedder, reranker = str(tiny_models / "bge-m3"), str(tiny_models / "bge-reranker-v2-m3")
    counter = workload.TokenCounter(embedder)
    shape = bench.encoder_shape(embedder)
    args = _args(bench, "precision", tmp_path)
    infinities = [peers.InfinityAt(embedder, reranker, "cpu", tmp_path, venv=tmp_path, variant=v)
                  for v in ("torch-fp32", "onnx-int8")]
    failures: list[str] = []
    info_e = bench.run_scenario(workload.SCENARIOS["e"], infinities, counter, shape, args, None, failures)
    assert all("dense output only" in r["skipped"] for r in info_e["results"].values()) and not failures
    nobody = peers.BgeLocalPrecision(embedder, reranker, "cpu", tmp_path, precision="int8")  # never started
    info_d = bench.run_scenario(workload.SCENARIOS["d"], [nobody], counter, shape, args, None, failures)
    assert info_d["results"]["bge-local@int8"]["skipped"].startswith("failed the warm-up")
    assert failures == ["bge-local@int8: failed the warm-up of (d)"]
    empty = bench.run_scenario(workload.SCENARIOS["a"], [], counter, shape, args, None, failures)
    assert empty["results"] == {}

    report = _report({"d": info_d, "e": info_e, "a": empty})
    text = bench.show(report)
    assert "failed the warm-up" in text and "dense output only" in text


def _rep(tokens_per_s: float, p50: float) -> dict[str, Any]:
    return {"tokens_per_s": tokens_per_s, "p50_ms": p50, "errors": 0}


def _report(scenarios: dict[str, Any]) -> dict[str, Any]:
    return {"machine": {"name": "test", "cpu": "cpu", "usable_cores": 2, "memory_gb": 1, "device": "cpu",
                        "torch": "-", "FlagEmbedding": "-", "commit": "-"},
            "models": {"size": "tiny", "shape": {"hidden": 32, "layers": 2}}, "reps": 2, "quick": True,
            "server_args": [], "targets": {}, "skipped_targets": {}, "scenarios": scenarios, "partial": True}


def test_show_partial_json_with_precision_ratios(bench: Any, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    def result(*reps: dict[str, Any]) -> dict[str, Any]:
        return {"concurrency": 2, "reps": list(reps), "summary": {"tokens_per_s": reps[0]["tokens_per_s"],
                                                                   "tokens_per_s_min": 0, "tokens_per_s_max": 0,
                                                                   "inputs_per_s": 1, "p50_ms": reps[0]["p50_ms"],
                                                                   "p99_ms": 1}}
    scenario = {"title": "rerank", "results": {
        "bge-local@fp32": result(_rep(100, 10), _rep(100, 10)),
        "bge-local@int8": result(_rep(300, 5), _rep(200, 5)),
        "infinity@onnx-int8": result(_rep(150, 8), _rep(100, 8)),
        "infinity@torch-int8": {"skipped": "failed the warm-up (boom)"}}}
    report = _report({"d": scenario, "e": {"title": "all three", "results": {}}})
    report["targets"] = {"bge-local@int8": {"runs": {"bge-m3": {"precision": "int8"}}},
                         "infinity@onnx-int8": {"engine": "--engine optimum", "onnx_file": "model_quantized.onnx"}}
    path = tmp_path / "partial.json"
    path.write_text(json.dumps(report))  # no "ratios": a partial JSON, written after a scenario
    assert bench.main(["--show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "partial run" in out
    ratios = sys.modules["report"].precision_ratios(report)
    assert ratios["bge-local@int8 ÷ bge-local@fp32"]["d"]["throughput"] == 2.5  # median of 3.0 and 2.0
    assert ratios["bge-local@int8 ÷ infinity@onnx-int8"]["d"]["throughput"] == 2.0
    assert "bge-local@int8 ÷ infinity@torch-int8" not in ratios  # it never ran (d)
    assert "| bge-local@int8 ÷ bge-local@fp32 | 2.50× (2.00–3.00), p50 0.50× | – |" in out
    assert "bge-local@int8: bge-m3 int8" in out and "model_quantized.onnx" in out


def test_a_target_that_dies_mid_rep_is_dropped_and_the_run_goes_on(bench: Any, tiny_models: Path,
                                                                   tmp_path: Path) -> None:
    """A real tiny server takes the warm-up, then its process is killed (as the kernel's OOM killer does to a peer
    in a crowded run): that rep fails, the target is dropped with the reason, and the scenario still returns."""
    workload = sys.modules["workload"]
    peers = sys.modules["precision_targets"]
    embedder, reranker = str(tiny_models / "bge-m3"), str(tiny_models / "bge-reranker-v2-m3")

    class DiesAfterWarmup(peers.BgeLocalPrecision):
        async def run(self, scenario, requests, validate=False):
            if not validate:  # the timed reps (the warm-up validates): the process is gone by now
                self.proc.kill()
                self.proc.wait(timeout=30)
            return await super().run(scenario, requests, validate)

    target = DiesAfterWarmup(embedder, reranker, "cpu", tmp_path, precision="fp32")
    target.start()
    try:
        failures: list[str] = []
        info = bench.run_scenario(workload.SCENARIOS["a"], [target], workload.TokenCounter(embedder),
                                  bench.encoder_shape(embedder), _args(bench, "bge-local@fp32", tmp_path), None,
                                  failures)
    finally:
        target.stop()
    assert info["results"]["bge-local@fp32"]["skipped"].startswith("failed in rep 1 (RuntimeError: bge-local@fp32 "
                                                                   "exited with -9")
    assert failures == ["bge-local@fp32: failed in rep 1 of (a)"]


def test_auto_is_set_against_infinitys_default_variant_when_plain_infinity_did_not_run(bench: Any) -> None:
    report_module = sys.modules["report"]
    results = {"bge-local@auto": {"reps": [_rep(200.0, 10.0)], "summary": {"p50_ms": 10.0}},
               "infinity@torch-fp32": {"reps": [_rep(100.0, 20.0)], "summary": {"p50_ms": 20.0}}}
    report = {**_report({"a": {"results": results}}), "requested_targets": ["bge-local@auto", "infinity@torch-fp32"]}
    ratios = report_module.precision_ratios(report)
    assert ratios["bge-local@auto ÷ infinity@torch-fp32"]["a"]["throughput"] == 2.0
