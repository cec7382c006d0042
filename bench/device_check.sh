#!/usr/bin/env bash
# The GPU check in one command, on a machine with an NVIDIA GPU where torch is already installed:
#
#   bash bench/device_check.sh                 # results in $OUT, else ./device-results
#
# 1. installs the rest of locks/server-cuda.txt (all but torch, its CUDA libraries and what torch itself
#    needs, which come with the machine's torch), exactly pinned, into a folder put first on PYTHONPATH (with
#    this checkout) — from wheels carried in .whl/ when that folder exists (no network needed), else from
#    PyPI. The test tools (pytest, pytest-timeout, sentencepiece, protobuf, psutil) are the
#    machine's where it has them;
# 2. runs the CUDA-path tests (tests/gpu: fp16/bf16 vs fp32, the packed forward's attention kernel and padding
#    share, two replicas on one GPU, a real OOM split);
# 3. runs the GPU benchmark (bench/run.py --device cuda --size full, bge-local only, scaled to fit);
# and writes everything under one folder: device_check.log, summary.json, env.txt, gpu-tests.xml,
# gpu-tests.jsonl (per test: the attention kernel, padding share, ms per batch...), bench.json (rewritten after
# every scenario, so a step that times out still leaves what it measured) and bench-logs/ (the servers' logs).
# Each step has its own time limit (`timeout`), the summary is written on any exit (trap); the whole stays
# under 8 minutes. DRY_RUN=1 runs the same steps on a CPU machine (CUDA tests skip, a tiny CPU benchmark).
#
# Preparing the wheels here (a machine with PyPI), for a GPU machine with Python 3.12 and no network:
#   bash bench/device_check.sh --fetch-wheels [PYTHON_VERSION]    # -> .whl/ (keep it out of git)
# Listing what gets installed:  bash bench/device_check.sh --requirements
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"
TORCH_FAMILY='^(torch|triton|nvidia-[a-z0-9-]*|cuda-[a-z-]*)=='
# What the machine's torch brought with it (kept as the machine has them).
TORCH_DEPS='^(filelock|fsspec|jinja2|markupsafe|mpmath|networkx|setuptools|sympy|typing-extensions)=='
# The test tools the CUDA tests use: the GPU image has them; where one is missing it comes from locks/test.txt.
TEST_TOOLS='^(pytest|pytest-timeout|pluggy|iniconfig|sentencepiece|protobuf|psutil)=='

pins() { grep -oE '^[A-Za-z0-9_.-]+==[^ ;\\]+( ;[^#\\]*)?' | sed 's/ *$//'; }
requirements() {  # the server lock without torch, its CUDA libraries and its own dependencies; no hashes
  awk -v re="$TORCH_FAMILY" '/^[^ #]/ { t = ($0 ~ re) } !t' locks/server-cuda.txt | pins | grep -vE "$TORCH_DEPS"
}

if [ "${1:-}" = --requirements ]; then requirements; exit 0; fi
if [ "${1:-}" = --fetch-wheels ]; then
  pyver="${2:-3.12}"
  mkdir -p .whl  # ignored by git (.gitignore); the device tool carries it: run(carry=[".whl"])
  requirements >.whl/requirements.txt
  plat=()
  for n in 17 27 28 31 34 35; do plat+=(--platform "manylinux_2_${n}_x86_64"); done
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$pyver" --implementation cp \
    "${plat[@]}" --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
    -d .whl -r .whl/requirements.txt
  echo "fetch-wheels: $(ls .whl/*.whl | wc -l) wheels, $(du -sh .whl | cut -f1) in .whl/ (Python $pyver)"
  exit 0
fi

OUT="${OUT:-$REPO/device-results}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
exec > >(tee -a "$OUT/device_check.log") 2>&1
PY="${PYTHON:-python3}"
SITE="${DEVICE_SITE:-/tmp/bge-local-device-site}"
# The lock's packages and this checkout (bge-local itself) come first; torch and the rest are the machine's.
export PYTHONPATH="$SITE:$REPO${PYTHONPATH:+:$PYTHONPATH}"
SIZE="${BGE_LOCAL_GPU_TEST_SIZE:-small}"
# DRY_RUN=1: the same steps on a machine without a GPU (the CUDA tests skip, the benchmark is a CPU smoke run).
DRY_RUN="${DRY_RUN:-0}"
declare -A STATUS SECONDS_TAKEN
started=$(date +%s)

step() {  # step NAME LIMIT_S command...  (a failing step is recorded; the next one still runs)
  local name="$1" limit="$2"; shift 2
  local t0 rc=0
  t0=$(date +%s)
  echo "=== $name (limit ${limit}s): $*"
  timeout --kill-after=10 "$limit" bash -c '"$@"' _ "$@" || rc=$?
  SECONDS_TAKEN[$name]=$(( $(date +%s) - t0 ))
  STATUS[$name]=$([ "$rc" = 0 ] && echo ok || { [ "$rc" = 124 ] && echo "timed out" || echo "failed ($rc)"; })
  echo "=== $name: ${STATUS[$name]} in ${SECONDS_TAKEN[$name]}s"
  return 0
}

summary() {
  {
    echo "{"
    echo "  \"total_s\": $(( $(date +%s) - started )),"
    for name in "${!STATUS[@]}"; do
      echo "  \"$name\": {\"status\": \"${STATUS[$name]}\", \"seconds\": ${SECONDS_TAKEN[$name]}},"
    done
    echo "  \"out\": \"$OUT\""
    echo "}"
  } >"$OUT/summary.json"
  cat "$OUT/summary.json"
}
trap summary EXIT

environment() {
  { nvidia-smi || echo "nvidia-smi: not available"
  "$PY" - <<'EOF'
import platform, sys
import torch
print("python", sys.version.split()[0], platform.machine())
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
for i in range(torch.cuda.device_count()):
    p = torch.cuda.get_device_properties(i)
    print(f"gpu {i}: {p.name}, {p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs")
EOF
  } | tee "$OUT/env.txt"
}

install() {
  # A folder first on PYTHONPATH rather than a venv: the machine's torch may itself live in a venv, which a
  # new venv (even with --system-site-packages) would not see.
  local pip=("$PY" -m pip --disable-pip-version-check --no-input install --quiet --no-deps --upgrade --target "$SITE")
  mkdir -p "$SITE"
  requirements >"$SITE.requirements.txt"
  if compgen -G ".whl/*.whl" >/dev/null; then
    "${pip[@]}" --no-index --find-links .whl -r "$SITE.requirements.txt"
  else
    "${pip[@]}" -r "$SITE.requirements.txt"
  fi
  if ! "$PY" -c "import pytest, pytest_timeout, sentencepiece, google.protobuf, psutil" 2>/dev/null; then
    grep -E "$TEST_TOOLS" locks/test.txt | pins >"$SITE.test-tools.txt"
    "${pip[@]}" -r "$SITE.test-tools.txt"
  fi
  "$PY" -c "import torch, tokenizers, fastapi, local_server; \
assert torch.cuda.is_available() or '$DRY_RUN' == '1', 'torch sees no GPU'; \
assert fastapi.__file__.startswith('$SITE'), fastapi.__file__; \
print('torch', torch.__version__, 'tokenizers', tokenizers.__version__, 'bge-local', local_server.__version__)"
}
export -f pins requirements environment install
export PY SITE OUT TORCH_FAMILY TORCH_DEPS TEST_TOOLS DRY_RUN

step environment 60 environment
step install 240 install
[ "${STATUS[install]}" = ok ] || { echo "install failed: nothing else can run"; exit 1; }
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
export BGE_LOCAL_GPU_RESULTS="$OUT" BGE_LOCAL_GPU_TEST_SIZE="$SIZE"
rm -f "$OUT/gpu-tests.jsonl"
step gpu-tests 240 "$PY" -m pytest tests/gpu -v -p no:cacheprovider -o addopts="" \
  --timeout 200 --junitxml "$OUT/gpu-tests.xml"
# What the packed forward ran on: the attention kernel and the share of computed tokens that were padding.
grep -h attention_backend "$OUT/gpu-tests.jsonl" 2>/dev/null || echo "no attention report (the packed-forward test did not run)"
# The benchmark: bge-local on bge-m3's real shape (random weights), within what is left of 8 minutes.
left=$(( 470 - ($(date +%s) - started) ))
bench=(--device cuda --size full --reps "${BENCH_REPS:-2}" --scale "${BENCH_SCALE:-4}")
[ "$DRY_RUN" = 1 ] && bench=(--device cpu --size tiny --quick --reps 1 --scenarios a)
if [ "$left" -gt 60 ]; then
  step benchmark "$left" "$PY" bench/run.py "${bench[@]}" --targets bge-local --no-infinity \
    --out "$OUT/bench.json" --log-dir "$OUT/bench-logs"
else
  STATUS[benchmark]="skipped (${left}s left)"; SECONDS_TAKEN[benchmark]=0
fi
failed=0
for name in "${!STATUS[@]}"; do [ "${STATUS[$name]}" = ok ] || failed=1; done
exit "$failed"
