"""The client suite: real client libraries (in their own venv, .cache/venvs/clients, from locks/clients.txt) and
request-for-request replays of apps, against the one session server of tests/conftest.py.

Each library module runs its driver (drivers/<name>.py) once, in that venv, and the tests read its scenarios; every
vector is compared with the server's own for the same text, every ranking with TEI /rerank's scores."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from support.server import REPO

CLIENTS_VENV = REPO / ".cache" / "venvs" / "clients"
DRIVERS = Path(__file__).with_name("drivers")


@pytest.fixture(scope="session")
def clients_python() -> Path:
    """The client libraries' Python; made from locks/clients.txt when it is missing (scripts/setup_venv.sh)."""
    python = CLIENTS_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run(["bash", "scripts/setup_venv.sh", "clients"], cwd=REPO, check=True, timeout=900)
    return python


@pytest.fixture(scope="session")
def drive(clients_python: Path, server, cl100k_dir: Path) -> Callable[[str], dict]:
    """Run a driver against the server once per session; its scenarios' results by name."""
    results: dict[str, dict] = {}

    def run(name: str) -> dict:
        if name not in results:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_", "PYTHONPATH"))}
            env.update({"TIKTOKEN_CACHE_DIR": str(cl100k_dir), "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
                        "HF_HUB_DISABLE_TELEMETRY": "1", "HAYSTACK_TELEMETRY_ENABLED": "False",
                        "ANONYMIZED_TELEMETRY": "False"})
            out = subprocess.run([str(clients_python), str(DRIVERS / f"{name}.py"), server.url], env=env,
                                 capture_output=True, text=True, timeout=600)
            assert out.returncode == 0, out.stderr[-4000:]
            results[name] = json.loads(out.stdout.strip().splitlines()[-1])
        return results[name]

    return run
