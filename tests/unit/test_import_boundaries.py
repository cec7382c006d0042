"""The layout's dependency rule, checked: the engine knows nothing of HTTP or the tools, and ``serve`` never
imports an offline tool."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "local_server"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_engine_imports_no_http_dialect_or_tool_module():
    forbidden = ("local_server.server", "local_server.dialects", "local_server.tools", "local_server.scale",
                 "fastapi", "starlette", "uvicorn", "ray")
    offenders = {
        f"{path.relative_to(ROOT.parent)} imports {module}"
        for path in (ROOT / "engine").rglob("*.py")
        for module in imported_modules(path)
        if module.startswith(forbidden)
    }
    assert not offenders


def test_only_the_scale_package_imports_ray():
    offenders = [f"{p.relative_to(ROOT.parent)}: {m}" for p in ROOT.rglob("*.py") if "scale" not in p.parts
                 for m in imported_modules(p) if m == "ray" or m.startswith("ray.")]
    assert not offenders


def test_dialects_never_import_tools():
    offenders = [f"{p.name}: {m}" for p in (ROOT / "dialects").rglob("*.py") for m in imported_modules(p)
                 if m.startswith("local_server.tools")]
    assert not offenders


def test_serve_imports_no_tool():
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
                         cwd=ROOT.parent).stdout
    assert out.strip() == "[]"


def test_the_check_sees_a_forbidden_import(tmp_path):
    """The AST scan is not vacuous: it finds an import written the way a slip would be."""
    bad = tmp_path / "bad.py"
    bad.write_text("from local_server.http.errors import BadRequest\nimport fastapi\n")
    assert imported_modules(bad) == {"local_server.http.errors", "fastapi"}
