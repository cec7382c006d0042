"""The locks agree with pyproject.toml and with each other (scripts/lock.sh regenerates them all).

What these catch: a range changed in pyproject without re-locking, a lock edited by hand, the CPU and CUDA locks
drifting apart, the plugin's requirements.txt no longer what pyproject's `plugin` extra says.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from support.checkout import lock_pins

REPO = Path(__file__).resolve().parents[2]
LOCKS = REPO / "locks"
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
EXTRAS = PROJECT["optional-dependencies"]
# The platform the locks are resolved for (scripts/lock.sh).
ENVIRONMENT = {"python_version": "3.11", "python_full_version": "3.11.7", "sys_platform": "linux",
               "platform_system": "Linux", "platform_machine": "x86_64", "platform_python_implementation": "CPython",
               "implementation_name": "cpython", "os_name": "posix", "extra": ""}


def pins(name: str) -> dict[str, str]:
    """Package -> pinned version, from a lock written by `uv pip compile` (with or without hashes)."""
    return lock_pins(LOCKS / name)


def requirements(extra: str) -> list[Requirement]:
    """An extra's requirements, with the project's own extras it names expanded."""
    out = []
    for text in EXTRAS[extra]:
        req = Requirement(text)
        if canonicalize_name(req.name) == "bge-local":
            for inner in sorted(req.extras):
                out += requirements(inner)
        elif req.marker is None or req.marker.evaluate(ENVIRONMENT):
            out.append(req)
    return out


@pytest.mark.parametrize(("extra", "lock"), [("server", "server-cpu.txt"), ("server", "server-cuda.txt"),
                                             ("test", "test.txt"), ("plugin", "plugin.txt")])
def test_every_requirement_is_locked_within_its_range(extra: str, lock: str) -> None:
    locked = pins(lock)
    for req in requirements(extra):
        name = canonicalize_name(req.name)
        assert name in locked, f"{req} is not in locks/{lock}: run `bash scripts/lock.sh`"
        assert req.specifier.contains(locked[name], prereleases=True), \
            f"locks/{lock} pins {name}=={locked[name]}, outside {req}: run `bash scripts/lock.sh`"


def test_server_ranges_are_bounded_above() -> None:
    for req in requirements("server") + requirements("tools"):
        assert any(s.operator in {"<", "<=", "==", "~="} for s in req.specifier), f"{req} has no upper bound"


def test_cpu_cuda_and_test_locks_pin_the_same_versions() -> None:
    cpu, cuda, test = pins("server-cpu.txt"), pins("server-cuda.txt"), pins("test.txt")
    assert cpu["torch"].endswith("+cpu") and test["torch"] == cpu["torch"]
    assert cuda["torch"] == cpu["torch"].removesuffix("+cpu")
    cuda_only = {n for n in cuda if n.startswith(("nvidia-", "cuda-")) or n == "triton"}
    assert set(cuda) - cuda_only == set(cpu), "the CUDA lock is the CPU lock plus torch's CUDA libraries"
    assert all(cuda[n] == v for n, v in cpu.items() if n != "torch")
    assert all(test[n] == v for n, v in cpu.items()), "tests run exactly what the server installs"


def test_the_server_install_has_no_flagembedding() -> None:
    for lock in ("server-cpu.txt", "server-cuda.txt"):
        assert "flagembedding" not in pins(lock)
    assert "flagembedding" in pins("test.txt"), "FlagEmbedding is the parity tests' reference"


def test_plugin_requirements_txt_is_the_plugin_extra() -> None:
    lines = [ln.strip() for ln in (REPO / "requirements.txt").read_text().splitlines() if ln.strip()]
    assert lines == EXTRAS["plugin"]
    locked = pins("plugin.txt")
    assert "torch" not in locked and "bge-local" not in locked


def test_version_has_one_source() -> None:
    import local_server

    assert "version" not in PROJECT and "version" in PROJECT["dynamic"]
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "local_server.__version__"}
    assert local_server.__version__
