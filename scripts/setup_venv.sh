#!/usr/bin/env bash
# Create (or update) .venv with the right torch for this machine, then bge-local with the given extras.
#   scripts/setup_venv.sh server        # what `bge-local serve` needs
#   scripts/setup_venv.sh test          # server + test tools
# torch: a GPU box (nvidia-smi works) gets a CUDA build that its driver can run (PyPI's for driver >= 580,
# else the CUDA 12.6 build); any other machine gets a CPU
# build — a local wheel when pip can find one, else the PyTorch CPU index — instead of several GB of CUDA
# packages it cannot use. Override with TORCH_SPEC / TORCH_INDEX_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-server}"
PY="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  if [ -n "${TORCH_INDEX_URL:-}" ]; then
    "${PIP[@]}" install "$TORCH_SPEC" --index-url "$TORCH_INDEX_URL"
  elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n1 | cut -d. -f1)
    if [ "${driver:-0}" -ge 580 ] 2>/dev/null; then
      echo "setup: GPU found (driver $driver), installing PyPI's CUDA build of torch"
      "${PIP[@]}" install "$TORCH_SPEC"
    else
      # PyPI's torch 2.13 is built for CUDA 13 (driver >= 580); older drivers get the CUDA 12.6 build.
      echo "setup: GPU found (driver ${driver:-unknown}), installing the CUDA 12.6 build of torch"
      "${PIP[@]}" install torch --index-url https://download.pytorch.org/whl/cu126
    fi
  elif "${PIP[@]}" install --no-index --no-deps "$TORCH_SPEC" >/dev/null 2>&1; then
    # a CPU wheel that pip finds locally (find-links / wheel cache); its dependencies come from PyPI
    "${PIP[@]}" install "$TORCH_SPEC"
    echo "setup: no GPU, installed a local CPU build of torch"
  else
    echo "setup: no GPU, installing the CPU build of torch from the PyTorch index"
    "${PIP[@]}" install "$TORCH_SPEC" --index-url https://download.pytorch.org/whl/cpu \
      --extra-index-url https://pypi.org/simple
  fi
fi
"${PIP[@]}" install -e ".[${EXTRAS}]"
