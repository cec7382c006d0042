#!/usr/bin/env bash
# Create the Infinity venv the benchmark compares against (its own venv: infinity-emb pins numpy<2 and
# sentence-transformers<4, which the server's venv must not get). It holds both of Infinity's CPU engines: torch
# (fp32, bf16, int8 by torch's dynamic quantization) and optimum/ONNX Runtime (fp32 and int8 ONNX files, which
# bench/peers/onnx_models.py exports offline from the stand-in models into bench/.models/<size>-onnx).
#   bench/setup_infinity.sh                 # -> bench/.venv-infinity (ignored by bench/.gitignore)
# torch goes in FIRST and pinned: an unpinned torch would pull several GB of CUDA wheels onto a CPU box.
# On a GPU box set TORCH_SPEC / TORCH_INDEX_URL as for scripts/setup_venv.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
VENV="${INFINITY_VENV:-bench/.venv-infinity}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
INFINITY_SPEC="${INFINITY_SPEC:-infinity-emb[server,optimum]==0.0.78}"

mkdir -p "$(dirname "$VENV")"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  if [ -n "${TORCH_INDEX_URL:-}" ]; then
    "${PIP[@]}" install "$TORCH_SPEC" --index-url "$TORCH_INDEX_URL" --extra-index-url https://pypi.org/simple
  elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "setup_infinity: GPU found, installing the CUDA build of torch"
    "${PIP[@]}" install "$TORCH_SPEC"
  elif "${PIP[@]}" install "${TORCH_SPEC}+cpu" 2>/dev/null; then
    echo "setup_infinity: no GPU, installed a CPU build of torch found by pip (find-links / index)"
  else
    echo "setup_infinity: no GPU, installing the CPU build of torch from the PyTorch index"
    "${PIP[@]}" install "${TORCH_SPEC}+cpu" --extra-index-url https://download.pytorch.org/whl/cpu
  fi
fi
# Keep the torch just installed: name it again so the resolver cannot swap it for another build.
TORCH_NOW="torch==$("$VENV/bin/python" -c 'import torch; print(torch.__version__)')"
"${PIP[@]}" install "$INFINITY_SPEC" "numpy<2" "sentence-transformers<4" "$TORCH_NOW"
"$VENV/bin/infinity_emb" --help >/dev/null
"$VENV/bin/python" -c "import onnxruntime, optimum.onnxruntime" # the ONNX engine and its exporter
echo "setup_infinity: ready: $VENV/bin/infinity_emb"
