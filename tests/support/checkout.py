"""This checkout as users get it: the files git tracks, copied as a fresh clone would hold them, and the pins of
a lock (what `pip install -r` installs from it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]


def tracked(prefix: str = "") -> list[str]:
    """Files git tracks under ``prefix`` (plus new files not yet committed, unless ignored), sorted."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", prefix or "."],
                         cwd=REPO, check=True, capture_output=True, text=True).stdout
    return sorted(p for p in out.splitlines() if (REPO / p).is_file())


def copy_tracked(dest: Path) -> Path:
    """A fresh copy of the tracked files in ``dest``: no venv, no caches, nothing ignored."""
    for rel in tracked():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, dest / rel)
    return dest


def lock_pins(lock: Path, python_version: str | None = None) -> dict[str, str]:
    """Package (canonical name) -> pinned version of a lock written by `uv pip compile` (hashed or not). With
    ``python_version`` ("3.11.7"), only the pins whose markers hold on Linux x86_64 with that Python."""
    environment = None
    if python_version is not None:
        environment = {"python_full_version": python_version, "python_version": python_version.rsplit(".", 1)[0],
                       "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"}
    pins = {}
    for line in lock.read_text().splitlines():
        if not line or line[0] in " #-":
            continue
        requirement = Requirement(line.split(" #")[0].rstrip(" \\"))
        (spec,) = requirement.specifier
        assert spec.operator == "==", line
        if environment is None or requirement.marker is None or requirement.marker.evaluate(environment):
            pins[canonicalize_name(requirement.name)] = spec.version
    return pins
