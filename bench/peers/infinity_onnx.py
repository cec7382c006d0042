"""``infinity_emb`` for a local ONNX model directory: Infinity's CLI with one path fixed, nothing else changed.

    bench/.venv-infinity/bin/python bench/peers/infinity_onnx.py v2 --engine optimum --model-id DIR ...

Infinity 0.0.78 finds a local directory's ONNX file by globbing it and hands optimum the file's *whole path* as
``file_name``; optimum 2.x (what ``infinity-emb[optimum]`` installs today) matches ``file_name`` against the
names of the files in the directory, so every local ONNX model fails to load ("Could not find any ONNX files with
target file name /…/model.onnx, only found: [model.onnx]"). This wrapper gives optimum the path relative to the
model directory instead, the form it expects. Which file Infinity picks (``*quantize*`` first on a CPU), its ONNX
Runtime graph optimisation and everything it computes are Infinity's own.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

USERS = ("infinity_emb.transformer.utils_optimum", "infinity_emb.transformer.embedder.optimum",
         "infinity_emb.transformer.crossencoder.optimum")


def main() -> int:
    from infinity_emb.cli import cli

    original = importlib.import_module(USERS[0]).get_onnx_files

    def get_onnx_files(**kwargs: Any) -> Path:
        found = original(**kwargs)
        directory = Path(kwargs["model_name_or_path"])
        return found.relative_to(directory) if directory.is_dir() and found.is_relative_to(directory) else found

    for name in USERS:
        importlib.import_module(name).get_onnx_files = get_onnx_files
    sys.argv[0] = "infinity_emb"
    return cli()


if __name__ == "__main__":
    sys.exit(main())
