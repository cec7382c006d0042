#!/usr/bin/env python3
"""Keep a wheelhouse folder equal to a lock: ``prune`` deletes wheels the lock does not pin (left by an older
lock, so the cache does not grow with every upgrade), ``check`` fails unless every pin has its wheel.

    python3 deploy/oci/wheelhouse.py prune locks/server-cuda.txt wheelhouse/cuda
    python3 deploy/oci/wheelhouse.py check locks/server-cuda.txt wheelhouse/cuda

Standard library only (it runs before any virtual environment exists). Names are compared in their
normalised form (PEP 503) and versions exactly, local label included: ``torch==2.13.0`` is not satisfied
by ``torch-2.13.0+cpu``, which pip itself would accept.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path) -> set[tuple[str, str]]:
    """(name, version) of every ``name==version`` line of a pip requirements lock."""
    found = set()
    for line in lock.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            found.add((normalise(match.group(1)), match.group(2)))
    return found


def wheel_pin(path: Path) -> tuple[str, str] | None:
    """(name, version) of a wheel file name (``name-version-[build-]python-abi-platform.whl``)."""
    if path.suffix != ".whl":
        return None
    parts = path.stem.split("-")
    if len(parts) < 5:
        return None
    return normalise(parts[0]), parts[1]


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("prune", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    command, lock, folder = argv[0], Path(argv[1]), Path(argv[2])
    wanted = pins(lock)
    if not wanted:
        print(f"{lock}: no name==version lines", file=sys.stderr)
        return 1
    present = {}
    for path in sorted(folder.glob("*")):
        pin = wheel_pin(path)
        if command == "prune" and (pin is None or pin not in wanted) and path.is_file():
            path.unlink()
            print(f"pruned {path.name} (not in {lock})")
        elif pin is not None:
            present[pin] = path
    if command == "check":
        missing = sorted(wanted - set(present))
        extra = sorted(set(present) - wanted)
        for name, version in missing:
            print(f"missing: {name}=={version}", file=sys.stderr)
        for name, version in extra:
            print(f"not in the lock: {present[(name, version)].name}", file=sys.stderr)
        if missing or extra:
            return 1
        print(f"{folder}: {len(present)} wheels, exactly the {len(wanted)} pins of {lock}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
