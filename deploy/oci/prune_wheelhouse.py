#!/usr/bin/env python3
"""Delete the wheels of a wheelhouse folder that a lock does not pin (left there by an older lock), so that a
wheelhouse kept between CI runs does not grow by gigabytes with every upgrade of torch.

    python3 deploy/oci/prune_wheelhouse.py locks/server-cuda.txt wheelhouse/cuda

Standard library only (it runs before any virtual environment exists). Names are compared in their PEP 503
form and versions exactly, local label included (``torch==2.13.0`` keeps no ``torch-2.13.0+cpu`` wheel).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\#]+)")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path) -> set[tuple[str, str]]:
    """(name, version) of every ``name==version`` line of a pip requirements file."""
    found = set()
    for line in lock.read_text().splitlines():
        match = PIN.match(line)
        if match:
            found.add((normalise(match.group(1)), match.group(2)))
    return found


def wheel_pin(path: Path) -> tuple[str, str] | None:
    """(name, version) from a wheel's file name, ``name-version[-build]-python-abi-platform.whl``."""
    parts = path.stem.split("-")
    if path.suffix != ".whl" or len(parts) not in (5, 6):
        return None
    return normalise(parts[0]), parts[1]


def prune(lock: Path, folder: Path) -> list[Path]:
    wanted = pins(lock)
    if not wanted:
        raise SystemExit(f"{lock}: no name==version lines")
    removed = []
    for path in sorted(folder.glob("*.whl")):
        if wheel_pin(path) not in wanted:
            path.unlink()
            removed.append(path)
    return removed


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    for path in prune(Path(argv[0]), Path(argv[1])):
        print(f"pruned {path.name} (not in {argv[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
