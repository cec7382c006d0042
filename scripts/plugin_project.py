"""Write locks/plugin-project/pyproject.toml, the Dify plugin's own project, from requirements.txt (what it needs),
locks/plugin.txt (the versions the tests ran) and manifest.yaml (its version). scripts/lock.sh runs it, then
`uv lock` beside it; `bge-local package-plugin` packs both as the package's pyproject.toml and uv.lock."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    requirements = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
    pins = [m.group(0) for line in (ROOT / "locks" / "plugin.txt").read_text().splitlines()
            if (m := re.match(r"^[A-Za-z0-9_.-]+==[^ ;\\]+", line))]
    version = re.search(r"^version:\s*(\S+)", (ROOT / "manifest.yaml").read_text(), re.M)
    assert version, "manifest.yaml has no version"
    target = ROOT / "locks" / "plugin-project" / "pyproject.toml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f"""# The Dify plugin's own project, written by scripts/plugin_project.py (bash scripts/lock.sh)
# from requirements.txt and locks/plugin.txt: the package holds it as pyproject.toml, with uv.lock, which today's plugin
# daemon installs with `uv sync --frozen`. The server's pyproject.toml never enters the package.
[project]
name = "bge-local-dify-plugin"
version = "{version.group(1)}"
requires-python = ">=3.12"
dependencies = {json.dumps(requirements)}

[tool.uv]
package = false
# the versions of locks/plugin.txt, so uv.lock installs what the tests ran
constraint-dependencies = {json.dumps(pins)}
""")


if __name__ == "__main__":
    main()
