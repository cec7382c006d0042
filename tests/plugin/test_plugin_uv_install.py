"""The package installed the way today's plugin daemon installs it — `uv sync --frozen` on the package's own
pyproject.toml and uv.lock, Python 3.12 — and started over stdio: it validates and embeds against the server."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
import numpy as np
import pytest
from plugin_harness import PluginProcess, unpack
from support.server import REPO


def python312() -> str:
    for candidate in (shutil.which("python3.12"), *sorted(Path(os.path.expanduser("~/.pyenv/versions")).glob(
            "3.12*/bin/python3.12")), "/usr/bin/python3.12"):
        if candidate and subprocess.run([str(candidate), "-c", "import sys; assert sys.version_info[:2] == (3, 12)"],
                                        capture_output=True).returncode == 0:
            return str(candidate)
    pytest.fail("no Python 3.12 here: the Dify plugin runs on 3.12 (install python3.12)")


@pytest.fixture(scope="module")
def uv_installed(plugin_package: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package unpacked and installed by uv from its lock alone (--frozen: the lock is never re-resolved)."""
    plugin_dir = unpack(plugin_package, tmp_path_factory.mktemp("uv-plugin"))
    uv = REPO / ".venv" / "bin" / "uv"
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_PROJECT_ENVIRONMENT": str(plugin_dir / ".venv")}
    out = subprocess.run([str(uv), "sync", "--frozen", "--no-dev", "--python", python312()], cwd=plugin_dir, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return plugin_dir


def test_uv_sync_frozen_installs_the_plugin_lock(uv_installed: Path):
    python = uv_installed / ".venv" / "bin" / "python"
    out = subprocess.run([str(python), "-c", "import sys, dify_plugin, importlib.metadata as m; "
                          "print(sys.version_info[:2], m.version('dify_plugin'), m.version('httpx'))"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(3, 12) 0.10.2 0.28.1"
    torchless = subprocess.run([str(python), "-c", "import torch"], capture_output=True, timeout=60)
    assert torchless.returncode != 0


def test_uv_installed_plugin_runs_over_stdio(uv_installed: Path, server):
    plugin = PluginProcess(uv_installed / ".venv" / "bin" / "python", uv_installed)
    try:
        credentials = {"server_url": server.url}
        assert plugin.validate_provider(credentials)["result"] is True
        vector = plugin.embed("bge-m3", credentials, ["Hello, world"])["embeddings"][0]
        want = httpx.post(server.url + "/v1/embeddings", json={"input": ["Hello, world"]}).json()["data"][0]
        np.testing.assert_allclose(vector, want["embedding"], atol=1e-5)
    finally:
        plugin.close()
