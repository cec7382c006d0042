#!/usr/bin/env bash
# Set up and run every test in one command:  bash scripts/test.sh [pytest options]
# Builds .venv (server + test tools, CPU torch where there is no GPU) and .venv-plugin (the Dify plugin's
# own requirements.txt, as Dify installs it), then runs ruff and pytest. Nothing is downloaded from a model
# hub: the tests build tiny models offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh test
if [ ! -x .venv-plugin/bin/python ] || ! .venv-plugin/bin/python -c "import dify_plugin" 2>/dev/null; then
  python3 -m venv .venv-plugin
  .venv-plugin/bin/python -m pip install --disable-pip-version-check -q -r requirements.txt
fi
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
