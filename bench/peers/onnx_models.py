"""Export the benchmark's stand-in models to ONNX for Infinity's optimum engine, offline, and quantize to int8.

Runs with Infinity's venv (optimum and ONNX Runtime live there, not in the server's venv):

    bench/.venv-infinity/bin/python bench/peers/onnx_models.py MODELS_DIR OUT_DIR

MODELS_DIR holds ``bge-m3`` and ``bge-reranker-v2-m3`` (``bge-local make-test-models`` stand-ins or real
weights). OUT_DIR gets ``fp32/<model>/model.onnx`` (optimum's exporter: feature-extraction for the embedder, its
last hidden state, which Infinity CLS-pools; text-classification for the reranker, its logit) and
``int8/<model>/model_quantized.onnx`` (ONNX Runtime dynamic quantization of the same graph: int8 weights per
channel, activations quantized on the fly; the AVX-512 VNNI recipe where the CPU has VNNI, else AVX2), each next
to the model's config and tokenizer files. One ``.onnx`` file per directory: Infinity globs the directory and would
otherwise choose by name. Nothing is downloaded (HF_HUB_OFFLINE is set by the caller; the sources are local).
"""

from __future__ import annotations

import argparse
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


def export(src: Path, out: Path, task: str) -> None:
    """fp32 ONNX of ``src`` into ``out`` (the exporter's numeric check against torch stays on)."""
    from optimum.exporters.onnx import main_export

    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".export-") as tmp:
        main_export(str(src), output=tmp, task=task, device="cpu", local_files_only=True, library_name="transformers")
        out.mkdir(parents=True, exist_ok=True)
        for path in Path(tmp).glob("*.onnx*"):  # model.onnx (and model.onnx_data above 2 GB)
            shutil.move(str(path), out / path.name)
    side_files(src, out)


def quantize(fp32: Path, out: Path) -> None:
    """Dynamic int8 of ``fp32/model.onnx`` into ``out/model_quantized.onnx``."""
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    recipe = AutoQuantizationConfig.avx512_vnni if has_vnni() else AutoQuantizationConfig.avx2
    config = recipe(is_static=False, per_channel=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".quantize-") as tmp:
        ORTQuantizer.from_pretrained(fp32, file_name="model.onnx").quantize(config, save_dir=tmp)
        out.mkdir(parents=True, exist_ok=True)
        for path in Path(tmp).glob("*.onnx*"):
            shutil.move(str(path), out / path.name)
    side_files(fp32, out)
    print(f"quantized {out.name} with {recipe.__name__} (dynamic, per channel)", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", type=Path, help="directory holding bge-m3 and bge-reranker-v2-m3")
    p.add_argument("out", type=Path, help="where fp32/ and int8/ go")
    args = p.parse_args(argv)
    for model, task in TASKS.items():
        src = args.models / model
        if not (src / "config.json").is_file():
            print(f"no model at {src}", file=sys.stderr)
            return 2
        fp32, int8 = args.out / "fp32" / model, args.out / "int8" / model
        for stale in (fp32, int8):  # a fresh export: no .onnx file of an earlier model may stay beside it
            shutil.rmtree(stale, ignore_errors=True)
        fp32.parent.mkdir(parents=True, exist_ok=True)
        int8.parent.mkdir(parents=True, exist_ok=True)
        print(f"exporting {model} ({task}) ...", flush=True)
        export(src, fp32, task)
        quantize(fp32, int8)
    print(f"ONNX models ready in {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
