"""The precision comparison's targets: this server at each ``--precision``, and Infinity at each of its CPU
precisions (torch fp32 / bf16 / int8, ONNX Runtime fp32 / int8), all on the same stand-in models.

Infinity's ONNX engine needs ``.onnx`` files next to the model's config and tokenizer; it never exports one
itself. ``ensure_onnx_models`` exports them once, offline, with optimum from Infinity's own venv
(``peers/onnx_models.py``) into ``bench/.models/onnx-<models>``: ``fp32/<model>/model.onnx`` and
``int8/<model>/model_quantized.onnx`` (dynamic int8, the name Infinity prefers on a CPU), each directory with the
model's config and tokenizer files and no other ``.onnx`` file, so Infinity picks the intended one. The fp32 graph
is already optimised by ONNX Runtime there (Infinity's own attempt fails with optimum 2.x), so these targets
start Infinity with ``--onnx-disable-optimize``; ``peers/infinity_onnx.py`` works around Infinity's local-path bug.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
from target_specs import INFINITY_VARIANTS, split
from targets import BENCH, OFFLINE_ENV, REPO, BgeLocal, Infinity

MODELS = ("bge-m3", "bge-reranker-v2-m3")
ONNX_FILES = {"fp32": "model.onnx", "int8": "model_quantized.onnx"}


class BgeLocalPrecision(BgeLocal):
    """This server started with ``--precision <p>``; ``/health`` says what each model then runs."""

    def __init__(self, *args: Any, precision: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.precision = precision
        self.name, self.label = f"bge-local@{precision}", f"this server, --precision {precision}"
        self.runs: dict[str, Any] = {}

    def command(self) -> list[str]:
        return [*super().command(), "--precision", self.precision]

    def on_ready(self) -> None:
        models = httpx.get(self.url + "/health", timeout=10).json().get("models", [])
        self.runs = {m["name"]: {"precision": m.get("precision"), "dtype": m.get("dtype")} for m in models}


class InfinityAt(Infinity):
    """Infinity with one engine and dtype (``infinity@torch-int8``, ``infinity@onnx-fp32`` ...)."""

    def __init__(self, *args: Any, variant: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.variant, self.spec = variant, INFINITY_VARIANTS[variant]
        self.name = f"infinity@{variant}"
        engine = "ONNX Runtime" if self.spec.engine == "optimum" else "torch"
        self.label = f"Infinity ({engine}, {self.spec.precision})"

    def engine_args(self) -> list[str]:
        args = ["--engine", self.spec.engine]
        if self.spec.dtype:
            args += ["--dtype", self.spec.dtype]
        if self.spec.onnx:  # the export is already graph-optimised (peers/onnx_models.py), as Infinity would do
            args.append("--onnx-disable-optimize")
        return args

    def command(self) -> list[str]:
        command = super().command()
        if self.spec.onnx is None:
            return command
        # Infinity's CLI through peers/infinity_onnx.py, which fixes how it names a local ONNX file to optimum.
        return [str(self.venv / "bin" / "python"), str(BENCH / "peers" / "infinity_onnx.py"), *command[1:]]

    def describe(self) -> dict[str, Any]:
        """What ran, for the report: engine options, the ONNX file and whether ONNX Runtime optimised it."""
        out: dict[str, Any] = {"engine": " ".join(self.engine_args())}
        if self.spec.onnx is not None:
            out["onnx_file"] = ONNX_FILES[self.spec.onnx]
            export = Path(self.embedder).parent.parent / "export.json"
            done = json.loads(export.read_text()) if export.is_file() else {}
            out["onnx_export"] = {model: done.get(model) for model in MODELS}
        return out


def onnx_dir(models: Path) -> Path:
    """Where the ONNX exports of ``models`` (a directory holding bge-m3 and bge-reranker-v2-m3) are cached."""
    models = models.resolve()
    home = BENCH / ".models"
    tag = models.name if models.parent == home.resolve() else "-".join(models.parts[1:])[-80:]
    return home / f"onnx-{tag}"


def onnx_ready(models: Path, out: Path) -> bool:
    """Every exported file is there and newer than the weights it was made from."""
    if not (out / "export.json").is_file():
        return False
    for model in MODELS:
        weights = max((p.stat().st_mtime for p in (models / model).glob("*.safetensors")), default=0.0)
        for precision, name in ONNX_FILES.items():
            path = out / precision / model / name
            if not path.is_file() or path.stat().st_mtime < weights:
                return False
    return True


def ensure_onnx_models(venv: Path, models: Path, log_dir: Path) -> tuple[Path | None, str]:
    """The ONNX model directory for Infinity's optimum engine, exported if needed; (None, why) if it can't be."""
    out = onnx_dir(models)
    if onnx_ready(models, out):
        return out, ""
    print(f"exporting ONNX models for Infinity's optimum engine into {out} ...", flush=True)
    log = log_dir / "onnx-export.log"
    with open(log, "wb") as fh:
        done = subprocess.run([str(venv / "bin" / "python"), str(BENCH / "peers" / "onnx_models.py"), str(models),
                               str(out)], cwd=REPO, env={**os.environ, **OFFLINE_ENV}, stdout=fh,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if done.returncode != 0 or not onnx_ready(models, out):
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
        return None, f"ONNX export failed ({tail[0][:200]}; log {log})"
    return out, ""


def infinity_models(name: str, embedder: str, reranker: str, onnx: Path | None) -> tuple[str, str]:
    """The model directories an Infinity target loads: the stand-ins, or their ONNX exports for ``onnx-*``."""
    _, variant = split(name)
    spec = INFINITY_VARIANTS.get(variant or "")
    if spec is None or spec.onnx is None:
        return embedder, reranker
    assert onnx is not None
    return str(onnx / spec.onnx / MODELS[0]), str(onnx / spec.onnx / MODELS[1])
