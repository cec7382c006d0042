"""The .difypkg: what goes in, what stays out, and that what Dify would refuse is refused here first.

The checks themselves are dify_plugin's own models (run by the plugin's Python) plus the packaging rules no schema
encodes; these tests break a copy of the plugin and look for the refusal, they do not restate the rules.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from plugin_harness import REPO

from local_server import __version__
from local_server.tools.package_plugin.build import build_package
from local_server.tools.package_plugin.errors import PackageError

PLUGIN_FILES = {
    "manifest.yaml",
    "main.py",
    "requirements.txt",
    "provider/bge_local.yaml",
    "provider/bge_local.py",
    "provider/client/__init__.py",
    "provider/client/addresses.py",
    "provider/client/config.py",
    "provider/client/dify.py",
    "provider/client/errors.py",
    "provider/client/kinds.py",
    "provider/client/tokens.py",
    "provider/client/transport.py",
    "provider/client/wire.py",
    "provider/endpoints.py",
    "models/text_embedding/text_embedding.py",
    "models/text_embedding/bge-m3.yaml",
    "models/rerank/rerank.py",
    "models/rerank/bge-reranker-v2-m3.yaml",
    "models/rerank/bge-m3-hybrid.yaml",
    "_assets/icon.svg",
    "_assets/icon_s_en.svg",
    "_assets/icon_l_en.svg",
    # the plugin's own project (locks/plugin-project), which today's daemon installs with `uv sync --frozen`
    "pyproject.toml",
    "uv.lock",
}
PROJECT_SOURCES = {"pyproject.toml": "locks/plugin-project/pyproject.toml", "uv.lock": "locks/plugin-project/uv.lock"}
SERVER_PACKAGES = {"torch", "flagembedding", "transformers", "sentence_transformers", "fastapi", "uvicorn"}


@pytest.fixture(scope="module")
def package(plugin_package: Path) -> zipfile.ZipFile:
    with zipfile.ZipFile(plugin_package) as zf:
        yield zf


def _names(zf: zipfile.ZipFile) -> set[str]:
    return {i.filename for i in zf.infolist()}


def _requirements(text: str) -> dict[str, str]:
    """name -> version specifier, from a requirements file or a lock (``--hash`` lines, comments, markers)."""
    out = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].split(";", 1)[0].removesuffix("\\").strip()
        if line and not line.startswith("-"):
            name, rest = re.match(r"([A-Za-z0-9_.-]+)(.*)", line).groups()
            out[name.lower().replace("-", "_")] = rest.strip()
    return out


def test_package_is_named_after_the_manifest_and_bge_locals_version(plugin_package: Path) -> None:
    assert plugin_package.name == f"bge_local-{__version__}.difypkg"


def test_holds_the_plugin_and_nothing_else(package: zipfile.ZipFile) -> None:
    names = _names(package)
    assert names >= PLUGIN_FILES
    # Only documentation may come along (Dify shows the README on the plugin's page).
    assert names - PLUGIN_FILES <= {"README.md", "LICENSE", "PRIVACY.md"}, names - PLUGIN_FILES


def test_the_plugins_own_project_not_the_servers(package: zipfile.ZipFile) -> None:
    """pyproject.toml and uv.lock are the plugin's (its requirements, locks/plugin.txt's versions), never the
    server's; requirements.txt stays for daemons that predate uv."""
    project = tomllib.loads(package.read("pyproject.toml").decode())
    assert project["project"]["requires-python"] == ">=3.12"
    requirements = _requirements(package.read("requirements.txt").decode())
    assert _requirements("\n".join(project["project"]["dependencies"])) == requirements
    lock = tomllib.loads(package.read("uv.lock").decode())
    locked = {p["name"].replace("-", "_"): p["version"] for p in lock["package"] if "version" in p}
    pins = _requirements((REPO / "locks" / "plugin.txt").read_text())
    assert {name: locked.get(name) for name in pins} == {name: spec.removeprefix("==") for name, spec in pins.items()}
    assert not SERVER_PACKAGES & set(locked)


def test_zip_layout_is_what_the_daemon_reads(package: zipfile.ZipFile) -> None:
    assert package.comment == b""  # unsigned: the daemon reads the signature from the comment
    for info in package.infolist():
        assert not info.is_dir()
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert not info.filename.startswith("/") and ".." not in info.filename.split("/")
        assert "\\" not in info.filename


def test_icons_are_real_svg(package: zipfile.ZipFile) -> None:
    for name in ("_assets/icon.svg", "_assets/icon_s_en.svg", "_assets/icon_l_en.svg"):
        svg = package.read(name).decode()
        root = ElementTree.fromstring(svg)  # well-formed XML
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert len(root) >= 2  # drawn shapes, not an empty canvas
        assert "viewBox" in svg


def test_requirements_are_the_plugin_runtime_the_tests_run_on(package: zipfile.ZipFile, plugin_venv_python) -> None:
    reqs = _requirements(package.read("requirements.txt").decode())
    assert {"dify_plugin", "httpx"} <= set(reqs)
    assert not SERVER_PACKAGES & set(reqs)
    pinned = reqs["dify_plugin"].removeprefix("==")
    installed = subprocess.run(
        [str(plugin_venv_python), "-c", "import importlib.metadata as m; print(m.version('dify_plugin'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert installed == pinned, f"the plugin tests run on dify_plugin {installed}, the package installs {pinned}"


def test_plugin_code_never_imports_the_server_or_torch(package: zipfile.ZipFile) -> None:
    for name in _names(package):
        if name.endswith(".py"):
            code = package.read(name).decode()
            assert not re.search(
                r"^\s*(from|import)\s+(local_server|torch|FlagEmbedding|transformers)\b", code, re.M
            ), name


def test_build_is_reproducible(tmp_path: Path, plugin_package: Path) -> None:
    again = build_package(REPO, tmp_path)
    assert again.read_bytes() == plugin_package.read_bytes()


# ---------------------------------------------------------------------------------------------------------------
# A copy of the plugin, broken on purpose
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture
def source_copy(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    for rel in [*PLUGIN_FILES, ".difyignore"]:
        rel = PROJECT_SOURCES.get(rel, rel)
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, src / rel)
    return src


@pytest.fixture
def build(tmp_path: Path, plugin_venv_python: Path):
    """Build a copy, checked with the plugin's own dify_plugin (a copy has no .venv-plugin beside it)."""

    def run(src: Path, **kwargs) -> zipfile.ZipFile:
        return zipfile.ZipFile(build_package(src, tmp_path / "out", plugin_python=plugin_venv_python, **kwargs))

    return run


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"test needs updating: {old!r} is no longer in {path.name}"
    path.write_text(text.replace(old, new, 1))


def _write(root: Path, *rels: str) -> None:
    for rel in rels:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x")


def test_difyignore_keeps_the_server_and_tests_out(source_copy: Path, build) -> None:
    _write(
        source_copy,
        "local_server/app.py",
        "tests/test_x.py",
        ".venv/bin/python",
        ".env",
        "models/rerank/__pycache__/x.pyc",
        "bge-models/bge-m3/model.safetensors",  # where `bge-local download` puts the weights by default
        "models/bge-reranker-v2-m3/config.json",
        "locks/plugin.txt",
        "Dockerfile",
        "docker-compose.yml",
        "deploy/env.example",
    )
    assert _names(build(source_copy)) == PLUGIN_FILES


def test_difyignore_has_gitignore_semantics(source_copy: Path, build) -> None:
    with (source_copy / ".difyignore").open("a") as f:
        f.write("\nprovider/**/secret*.txt\n_assets/draft-[0-9].svg\nmodels/rerank/notes/\n")
    _write(
        source_copy,
        "provider/secret-key.txt",  # ** matches no folder too
        "provider/deep/er/secret.txt",
        "_assets/draft-1.svg",
        "_assets/draft-x.svg",  # not a digit: kept
        "models/rerank/notes/todo.md",
        "models/rerank/notes.md",  # a file, not the folder the rule names: kept
    )
    assert _names(build(source_copy)) == PLUGIN_FILES | {"_assets/draft-x.svg", "models/rerank/notes.md"}


def test_a_stray_file_is_refused_until_difyignore_names_it(source_copy: Path, build) -> None:
    (source_copy / "notes.txt").write_text("not part of the plugin")
    with pytest.raises(PackageError, match=r"notes\.txt.*\.difyignore"):
        build(source_copy)
    with (source_copy / ".difyignore").open("a") as f:
        f.write("\n/notes.txt\n")
    assert "notes.txt" not in _names(build(source_copy))


@pytest.mark.parametrize(
    ("file", "old", "new", "complaint"),
    [
        ("manifest.yaml", "icon: icon.svg", "icon: missing.svg", "manifest.yaml icon names _assets/missing.svg"),
        ("manifest.yaml", "entrypoint: main", "entrypoint: app", "entrypoint names app.py"),
        ("manifest.yaml", "version: 0.1.0", "version: 0.2.0", "differs from bge-local's version"),
        ("manifest.yaml", "  models:\n    - provider/", "  models:\n    - provide/", "provide/bge_local.yaml is not"),
        ("manifest.yaml", "label:\n", "label: [\n", "manifest.yaml is not valid YAML"),
        ("provider/bge_local.yaml", "en_US: icon_s_en.svg", "en_US: nope.svg", "icon_small.en_US names _assets/nope"),
        ("provider/bge_local.yaml", "models/rerank/rerank.py", "models/rerank/gone.py", "names models/rerank/gone.py"),
        ("provider/bge_local.yaml", '"models/rerank/*.yaml"', '"models/reranker/*.yaml"', "matches no file"),
        ("requirements.txt", "httpx", "torch==2.5.0\nhttpx", "must not pull the server's dependencies"),
        ("requirements.txt", "dify_plugin", "dify-sdk", "must list dify_plugin"),
    ],
)
def test_what_the_package_lacks_is_refused(
    source_copy: Path, build, file: str, old: str, new: str, complaint: str
) -> None:
    _edit(source_copy / file, old, new)
    with pytest.raises(PackageError, match=re.escape(complaint)):
        build(source_copy)


def test_what_dify_plugin_would_refuse_is_refused_with_its_own_words(source_copy: Path, build) -> None:
    manifest, provider = source_copy / "manifest.yaml", source_copy / "provider/bge_local.yaml"
    _edit(manifest, "author: bge-local", "author: BGE Local")
    _edit(manifest, 'created_at: "2026-11-21T00:00:00Z"', "created_at: yesterday")
    _edit(manifest, "    - arm64", "    - riscv")
    _edit(provider, "  - rerank\nconfigurate", "  - reranking\nconfigurate")
    _edit(provider, "type: secret-input", "type: password")
    _edit(provider, 'default: "120"', "default: 120")
    _edit(source_copy / "models/rerank/bge-reranker-v2-m3.yaml", "model_type: rerank", "model_type: reranker")
    with pytest.raises(PackageError) as e:
        build(source_copy)
    message = str(e.value)
    assert re.search(r"dify_plugin \d+\.\d+\.\d+ refuses the plugin", message)
    for line in [
        "manifest.yaml: author: String should match pattern",
        "manifest.yaml: created_at: Input should be a valid datetime",
        "manifest.yaml: meta.arch.1: Input should be 'amd64' or 'arm64' (got 'riscv')",
        "provider/bge_local.yaml: supported_model_types.1: Input should be 'llm', 'text-embedding', 'rerank'",
        "provider/bge_local.yaml: provider_credential_schema.credential_form_schemas.1.type: Input should be",
        "credential_form_schemas.4.default: Input should be a valid string (got 120)",
        "models/rerank/bge-reranker-v2-m3.yaml: model_type: Input should be",
    ]:
        assert line in message, f"{line!r} not in:\n{message}"


def test_size_limit(source_copy: Path, build) -> None:
    with pytest.raises(PackageError, match="over Dify's limit"):
        build(source_copy, max_size=10_000)


# ---------------------------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------------------------


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "local_server", "package-plugin", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=300, env=env)


def test_cli_command_builds_the_package(tmp_path: Path) -> None:
    out = _cli("--output-dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / f"bge_local-{__version__}.difypkg").is_file()
    assert "Checked with dify_plugin" in out.stdout
    assert "FORCE_VERIFYING_SIGNATURE=false" in out.stdout


def test_cli_reports_a_bad_plugin_without_a_traceback(source_copy: Path, tmp_path: Path, plugin_venv_python) -> None:
    _edit(source_copy / "manifest.yaml", "type: plugin", "type: tool")
    dist = tmp_path / "dist"
    out = _cli("--source", str(source_copy), "--output-dir", str(dist), "--plugin-python", str(plugin_venv_python))
    assert out.returncode == 1
    assert "manifest.yaml: type: Input should be 'plugin' (got 'tool')" in out.stderr
    assert "Traceback" not in out.stderr
    assert not dist.exists()  # nothing written


def test_without_a_plugin_python_it_builds_and_says_what_was_not_checked(source_copy: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "BGE_LOCAL_PLUGIN_PYTHON"}
    out = _cli("--source", str(source_copy), "--output-dir", str(tmp_path), env=env)
    assert out.returncode == 0, out.stderr
    assert "not checked with dify_plugin's own models" in out.stderr and "--plugin-python" in out.stderr
    assert (tmp_path / f"bge_local-{__version__}.difypkg").is_file()


def test_a_python_without_dify_plugin_is_refused_with_the_fix(source_copy: Path, tmp_path: Path) -> None:
    out = _cli("--source", str(source_copy), "--output-dir", str(tmp_path), "--plugin-python", sys.executable)
    assert out.returncode == 1
    assert "cannot import dify_plugin" in out.stderr and "uv venv --python 3.12 .venv-plugin" in out.stderr
