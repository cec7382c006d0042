#!/usr/bin/env bash
# Regenerate every lock from pyproject.toml, in one command:  bash scripts/lock.sh
#
#   locks/server-cpu.txt   what `bge-local serve` needs on a CPU machine (torch's CPU build)
#   locks/server-cuda.txt  the same with PyPI's CUDA build of torch and its nvidia-* libraries (Linux x86_64)
#   locks/test.txt         server-cpu plus every test tool (same versions as server-cpu for what they share)
#   locks/clients.txt      the client libraries tests/clients drives, in a venv of their own (their pins conflict
#                          with the test tools'): pyproject's `clients` extra
#   locks/plugin.txt       what the Dify plugin installs; requirements.txt (what Dify reads) is written from
#                          pyproject's `plugin` extra, and the lock is compiled from it
#   locks/plugin-project/  the plugin's own pyproject.toml and uv.lock (the same versions), packed into the .difypkg
#                          for daemons that install with `uv sync --frozen`
#
# Needs uv (`pip install uv`) and PyPI. torch's CPU build is not on PyPI: it comes from TORCH_CPU_WHEELS (a
# folder holding torch-<version>+cpu-*.whl, default /opt/wheels) when that folder has it, else from the
# PyTorch CPU index. Resolved for Python $LOCK_PYTHON (3.11) on Linux x86_64.
#
# Hashes: server-cuda.txt and plugin.txt carry them (every file comes from PyPI). server-cpu.txt and
# test.txt do not: their torch comes from a local wheel or the PyTorch index, whose file hash can differ
# from the one seen here, and pip's hash mode is all or nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
LOCK_PYTHON="${LOCK_PYTHON:-3.11}"
PLUGIN_PYTHON="${PLUGIN_PYTHON:-3.12}"
PLATFORM="${LOCK_PLATFORM:-x86_64-manylinux_2_28}"
TORCH_CPU_WHEELS="${TORCH_CPU_WHEELS:-/opt/wheels}"
UV="${UV:-uv}"
command -v "$UV" >/dev/null || { echo "lock.sh: needs uv (pip install uv)" >&2; exit 2; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p locks

compile() {  # compile OUT [uv pip compile args...]
  local out="$1"; shift
  "$UV" pip compile --quiet --python-version "$LOCK_PYTHON" --python-platform "$PLATFORM" \
    --custom-compile-command "bash scripts/lock.sh" --no-strip-markers --annotation-style line \
    -o "$out" "$@"
}

# torch's CPU build: a local wheel when there is one, else the PyTorch CPU index.
cpu_source=(--index-url https://download.pytorch.org/whl/cpu --extra-index-url https://pypi.org/simple
            --index-strategy unsafe-best-match)
if compgen -G "$TORCH_CPU_WHEELS/torch-${TORCH_VERSION}+cpu-*.whl" >/dev/null; then
  cpu_source=(--find-links "$TORCH_CPU_WHEELS")
fi
echo "torch==${TORCH_VERSION}+cpu" >"$tmp/torch-cpu.txt"
echo "torch==${TORCH_VERSION}" >"$tmp/torch-cuda.txt"

compile locks/server-cpu.txt pyproject.toml --extra server -c "$tmp/torch-cpu.txt" "${cpu_source[@]}"
# Same versions as server-cpu for everything but torch and the CUDA libraries it brings.
grep -v '^torch==' locks/server-cpu.txt >"$tmp/shared.txt"
compile locks/server-cuda.txt pyproject.toml --extra server -c "$tmp/torch-cuda.txt" -c "$tmp/shared.txt" \
  --generate-hashes
# The test lock keeps every shared package at its server-cpu version: tests run what users install.
compile locks/test.txt pyproject.toml --extra test -c "$tmp/torch-cpu.txt" -c locks/server-cpu.txt \
  "${cpu_source[@]}"

# The client libraries: their own venv, so their own resolution (no torch among them).
compile locks/clients.txt pyproject.toml --extra clients

# The plugin: requirements.txt is exactly pyproject's `plugin` extra, locks/plugin.txt its resolution.
python3 - <<'EOF'
import tomllib
from pathlib import Path

extra = tomllib.loads(Path("pyproject.toml").read_text())["project"]["optional-dependencies"]["plugin"]
Path("requirements.txt").write_text("".join(f"{req}\n" for req in extra))
EOF
# Dify runs plugins on Python 3.12 (manifest meta.runner.version), and dify_plugin 0.10 needs it.
LOCK_PYTHON="$PLUGIN_PYTHON" compile locks/plugin.txt requirements.txt --generate-hashes
# The plugin's own project for today's daemon (uv sync --frozen): pyproject.toml from the above, then its uv.lock.
python3 scripts/plugin_project.py
py312="$(command -v "python$PLUGIN_PYTHON" || ls "$(pyenv root 2>/dev/null)"/versions/"$PLUGIN_PYTHON"*/bin/python3 2>/dev/null | head -n1)"
(cd locks/plugin-project && UV_PYTHON_DOWNLOADS=never "$UV" lock --quiet --python "${py312:-$PLUGIN_PYTHON}")

# The torch pins come from temporary files: name their origin instead of a path that changes every run.
sed -i -e "s#-c $tmp/torch-[a-z]*\.txt#scripts/lock.sh#" -e "s#-c $tmp/shared\.txt#-c locks/server-cpu.txt#" locks/*.txt
for f in locks/*.txt; do
  echo "$f: $(grep -cE '^[A-Za-z0-9_.-]+==' "$f") packages"
done
