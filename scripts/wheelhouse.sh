#!/usr/bin/env bash
# Every wheel a lock pins, downloaded into one folder, for installs that reach no index (the wheel-install
# test, image builds, a GPU machine without a network):
#   bash scripts/wheelhouse.sh LOCK DIR [pip download options, e.g. --python-version 3.12 --platform ...]
# Then: pip install --no-index --find-links DIR -r LOCK.  WITHOUT_TORCH=1 leaves out torch and its CUDA
# libraries (for a machine whose torch is already installed). torch's CPU build comes from a wheel pip finds
# locally (its find-links) when there is one, else from the PyTorch CPU index.
set -euo pipefail
cd "$(dirname "$0")/.."
LOCK="$1"; DIR="$2"; shift 2
PY="${PYTHON:-python3}"
PIP=("$PY" -m pip --disable-pip-version-check download --no-deps --only-binary=:all: -d "$DIR")
mkdir -p "$DIR"
# Already complete for this lock and these options: nothing to do.
stamp="$(cat "$LOCK" <(echo "$* ${WITHOUT_TORCH:-0}") | sha256sum | cut -c1-16)"
[ "$(cat "$DIR/.complete" 2>/dev/null)" = "$stamp" ] && exit 0
rm -f "$DIR/.complete"
rest="$(mktemp)"; torch_part="$(mktemp)"
trap 'rm -f "$rest" "$torch_part"' EXIT
# Split off torch and the CUDA libraries that come with it (each a requirement line and its --hash lines).
TORCH_FAMILY='^(torch|triton|nvidia-[a-z0-9-]*|cuda-[a-z-]*)=='
awk -v re="$TORCH_FAMILY" '/^[^ #]/ { torch = ($0 ~ re) } !torch' "$LOCK" >"$rest"
awk -v re="$TORCH_FAMILY" '/^[^ #]/ { torch = ($0 ~ re) } torch' "$LOCK" >"$torch_part"
if [ "${WITHOUT_TORCH:-0}" != 1 ]; then
  pin="$(grep -oE '^torch==[^ ;]+' "$LOCK")"
  if [[ "$pin" == *+cpu ]]; then
    "${PIP[@]}" -q --no-index "$pin" "$@" 2>/dev/null \
      || "${PIP[@]}" -q "$pin" --index-url https://download.pytorch.org/whl/cpu "$@"
  else
    "${PIP[@]}" -q -r "$torch_part" "$@"
  fi
fi
"${PIP[@]}" -q -r "$rest" "$@"
echo "$stamp" >"$DIR/.complete"
echo "wheelhouse: $(find "$DIR" -name '*.whl' | wc -l) wheels in $DIR ($(du -sh "$DIR" | cut -f1))"
