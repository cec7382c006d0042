#!/usr/bin/env bash
# Set up and run the server in one command:  bash scripts/serve.sh [bge-local serve options]
# e.g.  bash scripts/serve.sh --api-key sk-mykey        (models download on first start; set
#       HF_ENDPOINT=https://hf-mirror.com where huggingface.co is out of reach)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh server >&2
exec .venv/bin/bge-local serve "$@"
