"""The layout's rules, checked on the static import graph (every import in every module, those made inside
functions included): floors that only import downwards, no cycles between packages, ``serve`` never reaching the
offline tools, and no module too long to read.

The floors, from the ground up (a module may import its own floor and those below):

0. ground      config.py, loopback.py, hub.py, clients/ (what each client sends: plain data)
1. engine      engine/ (inference; no HTTP)
2. http        http/ (the HTTP kernel: errors, responses, auth, the request frame, routers by task)
3. dialects    dialects/ (one module per client dialect: body in, one engine call, answer out)
4. console     console/ (the web console)
5. server      server/ (the composition root: the app, metrics, stats, the process)
6. cli         cli.py, __main__.py
beside         tools/, scale/: may import any floor but cli; no floor imports them but the cli, which registers them
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "local_server"
FLOORS = {"ground": 0, "engine": 1, "http": 2, "dialects": 3, "console": 4, "server": 5, "cli": 6}
ROOMS = {  # the first name under local_server -> its room
    "config": "ground", "loopback": "ground", "hub": "ground", "clients": "ground", "engine": "engine",
    "http": "http", "dialects": "dialects", "console": "console", "server": "server", "cli": "cli",
    "__main__": "cli", "tools": "tools", "scale": "scale",
}
BESIDE = {"tools", "scale"}
MAX_LINES = 450
MAX_DOCTOR_LINES = 300


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it, those inside functions too (relative imports resolved;
    ``from a import b`` is ``a.b`` where ``b`` is a module, else ``a``)."""
    here = _module_name(path).split(".")
    return _imports_in(ast.parse(path.read_text(), str(path)), here if path.name == "__init__.py" else here[:-1])


def _imports_in(node: ast.AST, package: list[str]) -> set[str]:
    found: set[str] = set()
    for inner in ast.walk(node):
        if isinstance(inner, ast.Import):
            found.update(alias.name for alias in inner.names)
        elif isinstance(inner, ast.ImportFrom):
            base = inner.module or ""
            if inner.level:
                base = ".".join([*package[: len(package) - inner.level + 1], *([base] if base else [])])
            found.update(f"{base}.{a.name}" if _is_module(f"{base}.{a.name}") else base for a in inner.names)
    return found


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (a package's ``__init__`` is the package)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in imported_modules(path) if m in modules and m != name} for name, path in modules.items()}


def reachable(roots: set[str]) -> set[str]:
    """Every module importing ``roots`` can bring in (importing ``a.b.c`` runs ``a`` and ``a.b`` first)."""
    edges, seen, todo = graph(), set(), list(roots)
    while todo:
        module = todo.pop()
        if module in seen or module not in edges:
            continue
        seen.add(module)
        todo += edges[module]
        todo += [".".join(module.split(".")[:i]) for i in range(2, module.count(".") + 1)]
    return seen


def serve_roots() -> set[str]:
    """What ``bge-local serve`` imports: cli.py's module-level imports and those inside the functions that the
    ``serve`` command runs (the offline tools' registration, ``_TOOLS``, is skipped for ``serve``)."""
    roots: set[str] = set()
    for node in ast.parse((PACKAGE / "cli.py").read_text()).body:
        runs = isinstance(node, ast.FunctionDef) and node.name in {"_serve", "build_parser", "main"}
        if runs or isinstance(node, ast.Import | ast.ImportFrom):
            roots |= _imports_in(node, ["local_server"])
    return roots & set(graph())


def room(module: str) -> str | None:
    parts = module.split(".")
    return ROOMS.get(parts[1]) if len(parts) > 1 else "ground"  # local_server/__init__.py: the version


def package_of(module: str) -> str:
    """A module's package (``local_server.tools.doctor``); top-level modules (config, cli) stand alone."""
    parts = module.split(".")
    path = PACKAGE.parent.joinpath(*parts)
    return module if path.is_dir() or len(parts) <= 2 else ".".join(parts[:-1])


def _cycles(nodes: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in nodes.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return found


def _arrows() -> Iterator[tuple[str, str]]:
    for source, targets in graph().items():
        for target in targets:
            yield source, target


# --- the rules --------------------------------------------------------------------------------------------------


def test_every_module_stands_in_a_room():
    assert not [m for m in graph() if room(m) is None]


def test_no_module_imports_from_a_floor_above_it():
    back = []
    for source, target in _arrows():
        a, b = room(source), room(target)
        if a is None or b is None or a == b:
            continue
        if b in BESIDE and a not in BESIDE | {"cli"}:
            back.append(f"{source} -> {target} (nothing on a floor but the cli imports {b}/)")
        elif b == "cli" or (a not in BESIDE and b not in BESIDE and FLOORS[b] > FLOORS[a]):
            back.append(f"{source} ({a}) -> {target} ({b})")
    assert not sorted(back)


def test_no_import_cycles_between_packages():
    packages: dict[str, set[str]] = {}
    for source, target in _arrows():
        if package_of(source) != package_of(target):
            packages.setdefault(package_of(source), set()).add(package_of(target))
    assert _cycles(packages) == []


def test_no_import_cycles_between_the_servers_modules():
    """Inside a package too, the modules ``serve`` runs import one way (the engine's types once imported the
    batcher's BatchStats and the tokenizer's class; now its floors are checked in test_engine_floors.py too)."""
    served = reachable(serve_roots())
    assert _cycles({m: graph()[m] & served for m in served}) == []


def test_serve_never_reaches_the_offline_tools():
    reached = reachable(serve_roots())
    assert "local_server.server.app" in reached and len(reached) > 20  # the walk is real
    assert sorted(m for m in reached if room(m) in BESIDE) == []


def test_no_module_is_too_long_to_read():
    long = {str(p.relative_to(PACKAGE.parent)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_the_doctor_is_small_modules():
    long = {p.name: n for p in (PACKAGE / "tools" / "doctor").rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_DOCTOR_LINES}
    assert long == {}


# --- the engine and the network ---------------------------------------------------------------------------------


def test_engine_imports_no_http_dialect_or_tool_module():
    forbidden = ("local_server.server", "local_server.http", "local_server.dialects", "local_server.console",
                 "local_server.tools", "local_server.scale", "fastapi", "starlette", "uvicorn", "ray")
    offenders = {
        f"{path.relative_to(PACKAGE.parent)} imports {module}"
        for path in (PACKAGE / "engine").rglob("*.py")
        for module in imported_modules(path)
        if module.startswith(forbidden)
    }
    assert not offenders


def test_only_the_scale_package_imports_ray():
    offenders = [f"{p.relative_to(PACKAGE.parent)}: {m}" for p in PACKAGE.rglob("*.py") if "scale" not in p.parts
                 for m in imported_modules(p) if m == "ray" or m.startswith("ray.")]
    assert not offenders


def test_serve_imports_no_tool_at_start_up():
    code = (
        "import sys\n"
        "from local_server.cli import build_parser\n"
        "from local_server.config import Settings\n"
        "from local_server.server.app import create_app\n"
        "build_parser(tools=False).parse_args(['serve', '--port', '1'])\n"
        "create_app(Settings(embedding_model=None))\n"
        "print(sorted(m for m in sys.modules\n"
        "             if m == 'ray' or m.startswith(('local_server.tools', 'local_server.scale', 'ray.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent).stdout
    assert out.strip() == "[]"


def test_the_scan_sees_lazy_relative_and_from_imports(tmp_path, monkeypatch):
    """The AST scan is not vacuous: it finds imports written the way a slip would be, inside a function too."""
    fake = tmp_path / "local_server"
    (fake / "console").mkdir(parents=True)
    (fake / "dialects").mkdir()
    (fake / "dialects" / "shapes.py").write_text("")
    bad = fake / "console" / "bad.py"
    bad.write_text("import fastapi\n\ndef later():\n    from local_server.tools.doctor import checks\n"
                   "    from ..dialects import shapes\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert imported_modules(bad) == {"fastapi", "local_server.tools.doctor", "local_server.dialects.shapes"}
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
