"""The engine's floors: each module imports only engine modules on floors below its own (lazy imports included),
so the bottom (types) knows nothing of the batcher, the tokenizer or the runtimes, and nothing points up."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "local_server" / "engine"

FLOORS = {
    "types": 0, "errors": 0, "names": 0, "queueing": 0,
    "tokenization": 1, "token_ids": 1, "devices": 1, "xlmr": 1,
    "runtime": 2, "hybrid": 2,
    "batcher": 3, "registry": 3,
    "loading": 4,
    "core": 5,
}
MODEL_CODE = FLOORS["xlmr"]  # a module or package not listed here (model code below runtime.py) sits there


def _floor(module: str) -> int:
    return FLOORS.get(module, MODEL_CODE)


def engine_imports(path: Path) -> set[str]:
    """The engine modules ``path`` imports, anywhere in it (``from local_server.engine import names`` included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] if node.module != "local_server.engine" else [
                f"local_server.engine.{a.name}" for a in node.names]
        else:
            continue
        found.update(n.split(".")[2] for n in names if n.startswith("local_server.engine."))
    return found


def test_no_engine_module_imports_from_a_floor_above_or_beside_it():
    offenders = []
    for path in ENGINE.rglob("*.py"):
        rel = path.relative_to(ENGINE)
        own = rel.parts[0].removesuffix(".py")
        if own == "__init__":
            continue
        for target in engine_imports(path) - {own}:
            if _floor(target) >= _floor(own):
                offenders.append(f"{rel} (floor {_floor(own)}) imports {target} (floor {_floor(target)})")
    assert not offenders


def test_types_imports_nothing_from_the_engine():
    assert engine_imports(ENGINE / "types.py") == set()


def test_the_scan_sees_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from local_server.engine.batcher import Batcher\n"
                   "from local_server.engine import core\n")
    assert engine_imports(bad) == {"batcher", "core"}
