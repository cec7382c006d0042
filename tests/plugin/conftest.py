"""Fixtures for the Dify plugin tests: the built package, the plugin running from it, network helpers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from plugin_harness import (
    REPO,
    PluginProcess,
    RecordingProxy,
    SilentServer,
    plugin_python,
    unpack,
)

from local_server.tools.package_plugin.build import build_package


@pytest.fixture(scope="session")
def plugin_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The .difypkg, built from this checkout exactly as `bge-local package-plugin` builds it."""
    return build_package(REPO, tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def plugin_dir(plugin_package: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package unpacked the way Dify's daemon unpacks it: only what is in the zip."""
    return unpack(plugin_package, tmp_path_factory.mktemp("plugin"))


@pytest.fixture(scope="session")
def plugin_venv_python() -> Path:
    python = plugin_python()
    if not python.exists():
        pytest.fail(
            f"No plugin runtime at {python}. Create it like Dify does (Python 3.12, the plugin's requirements.txt):\n"
            "  uv venv --python 3.12 .venv-plugin\n"
            "  uv pip install --python .venv-plugin/bin/python -r requirements.txt\n"
            "or point BGE_LOCAL_PLUGIN_PYTHON at a Python that has them."
        )
    return python


@pytest.fixture(scope="session")
def plugin(plugin_venv_python: Path, plugin_dir: Path) -> Iterator[PluginProcess]:
    """One plugin process for the session, as the daemon keeps one per installed plugin."""
    proc = PluginProcess(plugin_venv_python, plugin_dir)
    yield proc
    proc.close()


@pytest.fixture
def fresh_plugin(plugin_venv_python: Path, plugin_dir: Path) -> Iterator[PluginProcess]:
    """A new plugin process: nothing remembered from earlier tests."""
    proc = PluginProcess(plugin_venv_python, plugin_dir)
    yield proc
    proc.close()


@pytest.fixture
def make_proxy() -> Iterator:
    proxies: list[RecordingProxy] = []

    def make(upstream: str, **kwargs) -> RecordingProxy:
        proxy = RecordingProxy(upstream, **kwargs)
        proxies.append(proxy)
        return proxy

    yield make
    for p in proxies:
        p.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    s = SilentServer()
    yield s
    s.close()


@pytest.fixture
def dropping_server() -> Iterator[SilentServer]:
    s = SilentServer(drop=True)
    yield s
    s.close()
