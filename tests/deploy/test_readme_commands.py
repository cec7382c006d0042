"""The README's first command, ``bash scripts/serve.sh``, run as a user runs it: in a fresh copy of the repository
(the files git tracks, no venv), it makes ``.venv`` from ``locks/server-cpu.txt`` and starts the server.

pip installs offline from the wheelhouse that scripts/test.sh fills from the same lock (``PIP_NO_INDEX`` and
``PIP_FIND_LINKS``): exactly the lock's pins, as a user with PyPI gets them. The models are the tiny stand-ins,
given as paths, as a user with downloaded models gives them. (The README's second command is the one that runs
this test.)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from packaging.utils import canonicalize_name
from support.checkout import copy_tracked, lock_pins
from support.server import REPO, ServerProcess

WHEELHOUSE = REPO / ".cache" / "wheelhouse" / "server-cpu"


class _ServeScript(ServerProcess):
    """``bash <copy>/scripts/serve.sh <serve options>``: the script execs ``bge-local serve`` from its venv."""

    def __init__(self, copy: Path, models: Path, log_dir: Path):
        env = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(WHEELHOUSE), "PIP_PROGRESS_BAR": "off",
               "PYTHON": getattr(sys, "_base_executable", sys.executable)}
        super().__init__(models, env=env, log_dir=log_dir, wait_ready=False)
        self.copy = copy

    def command(self) -> list[str]:
        serve_options = super().command()[4:]  # after "python -m local_server serve"
        return ["bash", str(self.copy / "scripts" / "serve.sh"), *serve_options]


@pytest.mark.timeout(1200)
def test_serve_script_sets_up_from_the_lock_and_serves(tiny_models: Path, tmp_path: Path) -> None:
    if shutil.which("nvidia-smi"):
        pytest.skip("on a GPU machine serve.sh installs locks/server-cuda.txt, which the CPU wheelhouse does not hold")
    if not WHEELHOUSE.is_dir():
        pytest.fail(f"no wheelhouse at {WHEELHOUSE}: scripts/test.sh makes it")
    copy = copy_tracked(tmp_path / "bge-local")
    assert not (copy / ".venv").exists()

    with _ServeScript(copy, tiny_models, tmp_path) as server:
        server.wait_until_ready(timeout=900)  # the venv is made first: minutes on 2 cores
        embedded = httpx.post(server.url + "/v1/embeddings", json={"input": ["a text", "另一个文本"]}, timeout=60)
        ranked = httpx.post(server.url + "/v1/rerank", json={"query": "q", "documents": ["a", "b", "c"]},
                            timeout=60)
    assert embedded.status_code == 200 and len(embedded.json()["data"]) == 2, embedded.text
    assert ranked.status_code == 200 and len(ranked.json()["results"]) == 3, ranked.text

    # The venv holds the lock's pins and this copy of bge-local (editable), nothing fetched from elsewhere.
    python = copy / ".venv" / "bin" / "python"
    frozen = subprocess.run([str(python), "-m", "pip", "freeze", "--all", "--exclude-editable"], check=True,
                            capture_output=True, text=True).stdout.splitlines()
    installed = dict(line.split("==") for line in frozen)
    installed = {canonicalize_name(name): version for name, version in installed.items()}
    installed.pop("pip")  # the venv's own installer, which the lock does not pin
    assert installed == lock_pins(REPO / "locks" / "server-cpu.txt")
    where = subprocess.run([str(python), "-c", "import local_server; print(local_server.__file__)"],
                           cwd=tmp_path, check=True, capture_output=True, text=True).stdout.strip()
    assert Path(where).is_relative_to(copy)
