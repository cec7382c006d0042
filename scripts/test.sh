#!/usr/bin/env bash
# Set up and run every test in one command:  bash scripts/test.sh [pytest options]
# Builds .venv from locks/test.txt (server + test tools, CPU torch where there is no GPU), .venv-plugin from
# locks/plugin.txt (what Dify installs from requirements.txt), .cache/venvs/clients from locks/clients.txt (the
# client libraries tests/clients drives), and a wheelhouse of locks/server-cpu.txt for
# the test that installs the built wheel into a clean venv; then runs ruff and pytest. Nothing is downloaded
# from a model hub: the tests build tiny models offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh test
bash scripts/setup_venv.sh plugin
bash scripts/setup_venv.sh clients
PYTHON=.venv/bin/python bash scripts/wheelhouse.sh locks/server-cpu.txt .cache/wheelhouse/server-cpu
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
