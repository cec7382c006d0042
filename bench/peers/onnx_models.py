"""Export the benchmark's stand-in models to ONNX for Infinity's optimum engine, offline, and quantize to int8.

Runs with Infinity's venv (optimum and ONNX Runtime live there, not in the server's venv):

    bench/.venv-infinity/bin/python bench/peers/onnx_models.py MODELS_DIR OUT_DIR

MODELS_DIR holds ``bge-m3`` and ``bge-reranker-v2-m3`` (``bge-local make-test-models`` stand-ins or real
weights). OUT_DIR gets, per model:

- ``fp32/<model>/model.onnx``: optimum's export (feature-extraction for the embedder, its last hidden state, which
  Infinity CLS-pools; text-classification for the reranker, its logit), then graph-optimised for the CPU exactly
  as Infinity's optimum engine asks for (``OptimizationConfig(optimization_level=99, optimize_for_gpu=False,
  fp16=False)``: attention, LayerNorm and GELU fusions). Infinity would do that step itself at start-up, but with
  optimum 2.x its call fails (``OptimizationConfig`` lost ``optimize_with_onnxruntime_only``) and it falls back to
  the unoptimised graph; doing it here keeps the ONNX peer at its best;
- ``int8/<model>/model_quantized.onnx``: ONNX Runtime dynamic quantization of the plain export (int8 weights
  per channel, activations quantized on the fly; the AVX-512 VNNI recipe where the CPU has VNNI, else AVX2), as
  ``optimum-cli onnxruntime quantize`` makes the ``model_quantized.onnx`` files of the hub. ONNX Runtime's
  quantizer can't take the optimised graph (its fused contrib ops have no shape inference); ONNX Runtime fuses
  the quantized graph itself when it loads it. ``*quantize*`` is the name Infinity prefers on a CPU.

Each next to the model's config and tokenizer files, and one ``.onnx`` file per directory (Infinity globs the
directory and would otherwise choose by name). ``OUT_DIR/export.json`` says what was done. Nothing is downloaded
(the sources are local; the caller sets HF_HUB_OFFLINE).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

TASKS = {"bge-m3": "feature-extraction", "bge-reranker-v2-m3": "text-classification"}
# The files a model directory needs besides its weights (config, tokenizer), copied next to each ONNX file.
SIDE_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
              "sentencepiece.bpe.model", "added_tokens.json")


def has_vnni() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


def side_files(src: Path, dst: Path) -> None:
    for name in SIDE_FILES:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)


def export(src: Path, raw: Path, task: str) -> None:
    """The plain fp32 ONNX export of ``src`` into ``raw/model.onnx``."""
    from optimum.exporters.onnx import main_export

    main_export(str(src), output=raw, task=task, device="cpu", local_files_only=True, library_name="transformers")


def optimise(raw: Path, out: Path) -> bool:
    """``raw/model.onnx`` graph-optimised for the CPU into ``out/model.onnx`` (True), or copied as it is if ONNX
    Runtime can't optimise it (False)."""
    from optimum.onnxruntime import ORTOptimizer
    from optimum.onnxruntime.configuration import OptimizationConfig

    out.mkdir(parents=True, exist_ok=True)
    best = raw / "model.onnx"
    try:
        config = OptimizationConfig(optimization_level=99, optimize_for_gpu=False, fp16=False)
        ORTOptimizer.from_pretrained(raw, file_names=["model.onnx"]).optimize(config, raw / "optimised")
        best = raw / "optimised" / "model_optimized.onnx"
    except Exception as exc:  # the unoptimised graph still runs; say so
        print(f"ONNX Runtime could not optimise {out.name}: {exc}; keeping the plain export", flush=True)
    _move_onnx(best, out / "model.onnx")
    return best.parent.name == "optimised"


def quantize(raw: Path, out: Path) -> str:
    """Dynamic int8 of ``raw/model.onnx`` into ``out/model_quantized.onnx``; returns the recipe."""
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    recipe = AutoQuantizationConfig.avx512_vnni if has_vnni() else AutoQuantizationConfig.avx2
    config = recipe(is_static=False, per_channel=True)
    ORTQuantizer.from_pretrained(raw, file_name="model.onnx").quantize(config, save_dir=raw / "quantized")
    out.mkdir(parents=True, exist_ok=True)
    _move_onnx(raw / "quantized" / "model_quantized.onnx", out / "model_quantized.onnx")
    print(f"quantized {out.name} with {recipe.__name__} (dynamic, per channel)", flush=True)
    return f"ONNX Runtime dynamic int8, {recipe.__name__}, per channel"


def _move_onnx(src: Path, dst: Path) -> None:
    shutil.move(str(src), dst)
    data = src.with_name(src.name + "_data")  # weights over 2 GB live beside the graph
    if data.exists():
        shutil.move(str(data), dst.with_name(dst.name + "_data"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", type=Path, help="directory holding bge-m3 and bge-reranker-v2-m3")
    p.add_argument("out", type=Path, help="where fp32/ and int8/ go")
    args = p.parse_args(argv)
    done: dict[str, dict[str, object]] = {}
    for model, task in TASKS.items():
        src = args.models / model
        if not (src / "config.json").is_file():
            print(f"no model at {src}", file=sys.stderr)
            return 2
        fp32, int8 = args.out / "fp32" / model, args.out / "int8" / model
        for stale in (fp32, int8):  # a fresh export: no .onnx file of an earlier model may stay beside it
            shutil.rmtree(stale, ignore_errors=True)
        args.out.mkdir(parents=True, exist_ok=True)
        print(f"exporting {model} ({task}) ...", flush=True)
        with tempfile.TemporaryDirectory(dir=args.out, prefix=".export-") as tmp:
            export(src, Path(tmp), task)
            done[model] = {"task": task, "fp32_optimised": optimise(Path(tmp), fp32), "int8": quantize(Path(tmp), int8)}
        side_files(src, fp32)
        side_files(src, int8)
    (args.out / "export.json").write_text(json.dumps({"source": str(args.models.resolve()), **done}, indent=1))
    print(f"ONNX models ready in {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
