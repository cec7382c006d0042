#!/usr/bin/env bash
# Create (or update) a venv from the locks, then bge-local itself (editable, without dependencies).
#   scripts/setup_venv.sh server   # what `bge-local serve` needs: locks/server-cpu.txt, locks/server-cuda.txt on a GPU box
#   scripts/setup_venv.sh test     # server + test tools: locks/test.txt (on a GPU box: the CUDA torch, then the rest)
#   scripts/setup_venv.sh plugin   # the Dify plugin's runtime (VENV=.venv-plugin): locks/plugin.txt
#   scripts/setup_venv.sh clients  # the client libraries tests/clients drives (VENV=.cache/venvs/clients):
#                                  # locks/clients.txt (LangChain, LlamaIndex, Haystack, LiteLLM, ...; no torch)
# torch is pinned on every path (the lock's version):
#   GPU box (nvidia-smi -L works), driver >= 580: PyPI's CUDA 13 build, with the lock's nvidia-* libraries;
#   older driver: the same version from the PyTorch CUDA 12.6 index, then the rest of the lock;
#   no GPU: the CPU build, from a local wheel when pip finds one (pip's find-links), else the PyTorch CPU index.
# Overrides: VENV (default .venv), PYTHON (python3), TORCH_INDEX_URL (where torch comes from).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${1:-server}"
PY="${PYTHON:-python3}"
CPU_INDEX="https://download.pytorch.org/whl/cpu"
CU126_INDEX="https://download.pytorch.org/whl/cu126"

# A Python 3.12 (pyenv's shim answers `python3.12` only when 3.12 is the selected version, so look for it too).
python312() {
  local candidate
  for candidate in python3.12 "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12 /usr/bin/python3.12; do
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
      echo "$candidate"; return
    fi
  done
  echo "setup: the Dify plugin runs on Python 3.12, and none was found (install python3.12)" >&2
  echo python3.12
}
has_gpu() { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; }
gpu_driver() { nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n1 | cut -d. -f1; }
# A lock without torch and the CUDA libraries that come with it (a requirement and its --hash lines).
without_torch() { awk -v re='^(torch|triton|nvidia-[a-z0-9-]*|cuda-[a-z-]*)==' '/^[^ #]/ { t = ($0 ~ re) } !t' "$1"; }

case "$TARGET" in
  server) VENV="${VENV:-.venv}"; LOCK=locks/server-cpu.txt; has_gpu && LOCK=locks/server-cuda.txt ;;
  test) VENV="${VENV:-.venv}"; LOCK=locks/test.txt ;;
  # Dify runs plugins on Python 3.12 (manifest meta.runner.version); dify_plugin 0.10 needs it
  plugin) VENV="${VENV:-.venv-plugin}"; LOCK=locks/plugin.txt; PY="${PLUGIN_PYTHON:-$(python312)}"
          if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c 'import sys; assert sys.version_info[:2] >= (3, 12)' 2>/dev/null; then
            rm -rf "$VENV"  # an older runtime: make it anew
          fi ;;
  clients) VENV="${VENV:-.cache/venvs/clients}"; LOCK=locks/clients.txt ;;
  *) echo "setup: unknown target '$TARGET' (server, test, plugin or clients)" >&2; exit 2 ;;
esac

mkdir -p "$(dirname "$VENV")"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip --version >/dev/null 2>&1 || "$VENV/bin/python" -m ensurepip >/dev/null
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

if [ "$TARGET" = clients ]; then
  # ~140 pure-Python packages: uv (from the test venv) installs them in seconds where pip takes minutes
  if [ -x .venv/bin/uv ]; then
    .venv/bin/uv pip install --quiet --python "$VENV/bin/python" -r "$LOCK"
  else
    "${PIP[@]}" install -r "$LOCK"
  fi
  exit 0
fi
if [ "$TARGET" = plugin ]; then
  "${PIP[@]}" install -r "$LOCK"
  exit 0
fi

TORCH_PIN="$(grep -oE '^torch==[^ ;]+' "$LOCK")"
installed="$("$VENV/bin/python" -c 'import importlib.metadata as m; print("torch==" + m.version("torch"))' \
  2>/dev/null || true)"
rest="$(mktemp)"
trap 'rm -f "$rest"' EXIT
without_torch "$LOCK" >"$rest"

if has_gpu; then
  driver="$(gpu_driver)"
  cuda_pin="${TORCH_PIN%%+*}"
  if [ -n "${TORCH_INDEX_URL:-}" ]; then
    [ "${installed%%+*}" = "$cuda_pin" ] || "${PIP[@]}" install "$cuda_pin" --index-url "$TORCH_INDEX_URL"
  elif [ "${driver:-0}" -ge 580 ] 2>/dev/null; then
    echo "setup: GPU found (driver $driver), installing PyPI's CUDA build of torch (locks/server-cuda.txt)" >&2
    "${PIP[@]}" install -r locks/server-cuda.txt
  else
    # PyPI's torch is built for CUDA 13 (driver >= 580); older drivers get the CUDA 12.6 build of the same version.
    echo "setup: GPU found (driver ${driver:-unknown}), installing the CUDA 12.6 build of $cuda_pin" >&2
    [ "$installed" = "$cuda_pin+cu126" ] || "${PIP[@]}" install "$cuda_pin" --index-url "$CU126_INDEX"
  fi
  # The rest of the chosen lock around the GPU build of torch (its CPU torch pin left out).
  "${PIP[@]}" install -r "$rest"
else
  if [ "$installed" != "$TORCH_PIN" ]; then
    if [ -n "${TORCH_INDEX_URL:-}" ]; then
      "${PIP[@]}" install --no-deps "$TORCH_PIN" --index-url "$TORCH_INDEX_URL"
    elif "${PIP[@]}" install -q --no-index --no-deps "$TORCH_PIN" 2>/dev/null; then
      echo "setup: no GPU, installed the CPU build $TORCH_PIN from a local wheel" >&2
    else
      echo "setup: no GPU, installing the CPU build $TORCH_PIN from the PyTorch index" >&2
      "${PIP[@]}" install --no-deps "$TORCH_PIN" --index-url "$CPU_INDEX"
    fi
  fi
  "${PIP[@]}" install -r "$LOCK"
fi
"${PIP[@]}" install --no-deps -e .
