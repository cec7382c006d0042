"""The .difypkg: what goes in, what stays out, and the rules Dify's plugin daemon applies to it."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml
from plugin_harness import REPO

import local_server
from local_server import plugin_package as pp

PLUGIN_FILES = {
    "manifest.yaml",
    "main.py",
    "requirements.txt",
    "provider/bge_local.yaml",
    "provider/bge_local.py",
    "provider/client.py",
    "provider/endpoints.py",
    "models/text_embedding/text_embedding.py",
    "models/text_embedding/bge-m3.yaml",
    "models/rerank/rerank.py",
    "models/rerank/bge-reranker-v2-m3.yaml",
    "_assets/icon.svg",
    "_assets/icon_s_en.svg",
    "_assets/icon_l_en.svg",
}


@pytest.fixture(scope="module")
def package(plugin_package: Path) -> zipfile.ZipFile:
    with zipfile.ZipFile(plugin_package) as zf:
        yield zf


def _names(zf: zipfile.ZipFile) -> set[str]:
    return {i.filename for i in zf.infolist()}


def _yaml(zf: zipfile.ZipFile, name: str):
    return yaml.safe_load(zf.read(name))


def test_package_is_named_after_manifest_name_and_version(plugin_package: Path) -> None:
    assert plugin_package.name == f"bge_local-{local_server.__version__}.difypkg"


def test_holds_the_plugin_and_nothing_else(package: zipfile.ZipFile) -> None:
    names = _names(package)
    assert names >= PLUGIN_FILES
    extra = names - PLUGIN_FILES
    # Only documentation may come along (Dify shows the README on the plugin's page).
    assert extra <= {"README.md", "LICENSE", "PRIVACY.md"}, extra
    for name in names:
        assert not name.startswith(("local_server/", "tests/", "bench/", "scripts/", "docs/", "dist/", ".")), name
        assert "__pycache__" not in name and not name.endswith(".pyc"), name
        assert name not in ("pyproject.toml", "uv.lock"), name


def test_zip_layout_is_what_the_daemon_reads(package: zipfile.ZipFile) -> None:
    assert package.comment == b""  # unsigned: the daemon reads the signature from the comment
    for info in package.infolist():
        assert not info.is_dir()
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert not info.filename.startswith("/") and ".." not in info.filename.split("/")
        assert "\\" not in info.filename
    assert sum(i.file_size for i in package.infolist()) < 50 * 1024 * 1024


def test_manifest_rules(package: zipfile.ZipFile) -> None:
    m = _yaml(package, "manifest.yaml")
    assert re.fullmatch(r"\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?", m["version"])
    assert m["version"] == local_server.__version__
    assert m["type"] == "plugin"
    assert re.fullmatch(r"[a-z0-9_-]{1,64}", m["author"])
    assert m["name"] == "bge_local"
    assert m["label"]["en_US"] and m["description"]["en_US"]
    assert f"_assets/{m['icon']}" in _names(package)
    dt.datetime.fromisoformat(str(m["created_at"]).replace("Z", "+00:00"))
    assert isinstance(m["resource"]["memory"], int) and m["resource"]["memory"] > 0
    assert m["plugins"]["models"] == ["provider/bge_local.yaml"]
    for other in ("tools", "endpoints", "agent_strategies", "datasources", "triggers"):
        assert not m["plugins"].get(other)
    assert set(m["meta"]["arch"]) == {"amd64", "arm64"}
    assert m["meta"]["runner"] == {"language": "python", "version": "3.12", "entrypoint": "main"}


def test_provider_yaml_rules(package: zipfile.ZipFile) -> None:
    names = _names(package)
    p = _yaml(package, "provider/bge_local.yaml")
    assert p["provider"] == "bge_local"
    assert p["supported_model_types"] == ["text-embedding", "rerank"]
    assert p["configurate_methods"] == ["predefined-model", "customizable-model"]
    for key in ("icon_small", "icon_large"):
        assert f"_assets/{p[key]['en_US']}" in names
    assert p["help"]["url"]["en_US"].startswith("https://")
    assert p["extra"]["python"]["provider_source"] in names
    assert set(p["extra"]["python"]["model_sources"]) <= names
    provider_vars = {f["variable"] for f in p["provider_credential_schema"]["credential_form_schemas"]}
    assert {"server_url", "api_key", "timeout", "max_retries"} <= provider_vars
    model_vars = {f["variable"] for f in p["model_credential_schema"]["credential_form_schemas"]}
    assert {"server_url", "api_key", "context_size", "max_chunks", "timeout", "max_retries"} <= model_vars
    for schema in (p["provider_credential_schema"], p["model_credential_schema"]):
        for form in schema["credential_form_schemas"]:
            assert form["type"] in {"text-input", "secret-input", "select", "radio", "switch"}
            assert form.get("default") is None or isinstance(form["default"], str)  # Dify wants strings
            if form["variable"] == "api_key":
                assert form["type"] == "secret-input" and form["required"] is False


def test_predefined_models(package: zipfile.ZipFile) -> None:
    emb = _yaml(package, "models/text_embedding/bge-m3.yaml")
    assert emb["model"] == "bge-m3" and emb["model_type"] == "text-embedding"
    assert emb["model_properties"]["context_size"] == 8192
    assert 8 <= emb["model_properties"]["max_chunks"] <= 64  # batches, not one text per request
    rr = _yaml(package, "models/rerank/bge-reranker-v2-m3.yaml")
    assert rr["model"] == "bge-reranker-v2-m3" and rr["model_type"] == "rerank"


def test_icons_are_real_svg(package: zipfile.ZipFile) -> None:
    for name in ("_assets/icon.svg", "_assets/icon_s_en.svg", "_assets/icon_l_en.svg"):
        svg = package.read(name).decode()
        root = ElementTree.fromstring(svg)  # well-formed XML
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert len(root) >= 2  # drawn shapes, not an empty canvas
        assert 'xmlns="http://www.w3.org/2000/svg"' in svg and "viewBox" in svg


def test_requirements_are_only_the_plugin_runtime(package: zipfile.ZipFile) -> None:
    reqs = [
        re.split(r"[=<>~!\s\[]", line.strip(), maxsplit=1)[0].lower().replace("-", "_")
        for line in package.read("requirements.txt").decode().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert sorted(reqs) == ["dify_plugin", "httpx"]


def test_plugin_code_never_imports_the_server_or_torch(package: zipfile.ZipFile) -> None:
    for name in _names(package):
        if name.endswith(".py"):
            code = package.read(name).decode()
            assert not re.search(
                r"^\s*(from|import)\s+(local_server|torch|FlagEmbedding|transformers)\b", code, re.M
            ), name


def test_build_is_reproducible(tmp_path: Path, plugin_package: Path) -> None:
    again = pp.build_package(REPO, tmp_path)
    assert again.read_bytes() == plugin_package.read_bytes()


def test_mini_yaml_reader_agrees_with_pyyaml(package: zipfile.ZipFile) -> None:
    """Without PyYAML (the base install) the packager reads the plugin's YAML itself: same result."""
    for name in _names(package):
        if name.endswith(".yaml"):
            text = package.read(name).decode()
            assert pp._MiniYAML(text, name).load() == yaml.safe_load(text), name


def test_packager_works_without_pyyaml_or_any_third_party_package(tmp_path: Path) -> None:
    """The base install of bge-local has no dependencies: the packager must not need any."""
    code = (
        "import builtins, pathlib, sys\n"
        "real = builtins.__import__\n"
        "def guard(name, *a, **k):\n"
        "    if name.split('.')[0] in {'yaml', 'torch', 'httpx', 'fastapi', 'dify_plugin', 'numpy'}:\n"
        "        raise ImportError(name)\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = guard\n"
        "from local_server import plugin_package as pp\n"
        "print(pp.build_package(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(REPO), str(tmp_path)], capture_output=True, text=True, cwd=REPO
    )
    assert out.returncode == 0, out.stderr
    built = Path(out.stdout.strip())
    assert built.read_bytes() == pp.build_package(REPO, tmp_path / "with-yaml").read_bytes()


# ---------------------------------------------------------------------------------------------------------------
# The checks refuse what Dify would refuse
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture
def source_copy(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for rel in [*PLUGIN_FILES, ".difyignore", "pyproject.toml"]:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, src / rel)
    return src


def test_difyignore_keeps_the_server_and_tests_out(source_copy: Path, tmp_path: Path) -> None:
    for rel in (
        "local_server/app.py",
        "tests/test_x.py",
        ".venv/bin/python",
        ".env",
        "models/rerank/__pycache__/x.pyc",
        "models/bge-m3/model.safetensors",  # where `bge-local download` puts the weights by default
        "models/bge-reranker-v2-m3/config.json",
        "Dockerfile",
        "docker-compose.yml",
        "deploy/env.example",
    ):
        (source_copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (source_copy / rel).write_text("x")
    built = pp.build_package(source_copy, tmp_path / "out")
    with zipfile.ZipFile(built) as zf:
        assert _names(zf) == PLUGIN_FILES


def test_a_stray_file_is_refused_until_difyignore_names_it(source_copy: Path, tmp_path: Path) -> None:
    (source_copy / "notes.txt").write_text("not part of the plugin")
    with pytest.raises(pp.PackageError, match=r"notes\.txt.*\.difyignore"):
        pp.build_package(source_copy, tmp_path / "out")
    with (source_copy / ".difyignore").open("a") as f:
        f.write("\n/notes.txt\n")
    pp.build_package(source_copy, tmp_path / "out")


@pytest.mark.parametrize(
    ("file", "old", "new", "complaint"),
    [
        ("manifest.yaml", "version: 0.1.0", "version: 0.1", "manifest version"),
        ("manifest.yaml", "author: bge-local", "author: BGE Local", "author"),
        ("manifest.yaml", "name: bge_local", "name: bge.local", "name must match"),
        ("manifest.yaml", "icon: icon.svg", "icon: missing.svg", "not in _assets"),
        ("manifest.yaml", 'created_at: "2026-11-21T00:00:00Z"', "created_at: yesterday", "created_at"),
        ("manifest.yaml", "memory: 268435456", "memory: 0", "resource.memory"),
        ("manifest.yaml", "entrypoint: main", "entrypoint: app", "entrypoint"),
        ("manifest.yaml", "    - arm64", "    - riscv", "meta.arch"),
        ("provider/bge_local.yaml", "en_US: icon_s_en.svg", "en_US: nope.svg", "icon_small"),
        ("provider/bge_local.yaml", "  - rerank\nconfigurate", "  - reranking\nconfigurate", "supported_model_types"),
        ("provider/bge_local.yaml", "type: secret-input", "type: password", "type 'password'"),
        ("provider/bge_local.yaml", 'default: "120"', "default: 120", "default must be a string"),
        ("provider/bge_local.yaml", "models/rerank/rerank.py", "models/rerank/missing.py", "missing.py"),
        ("models/rerank/bge-reranker-v2-m3.yaml", "model_type: rerank", "model_type: reranker", "model_type"),
        ("requirements.txt", "httpx~=0.28.1", "httpx~=0.28.1\ntorch==2.5.0", "torch"),
    ],
)
def test_broken_plugins_are_refused(
    source_copy: Path, tmp_path: Path, file: str, old: str, new: str, complaint: str
) -> None:
    path = source_copy / file
    text = path.read_text()
    assert old in text, f"test needs updating: {old!r} is no longer in {file}"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(pp.PackageError, match=re.escape(complaint)):
        pp.build_package(source_copy, tmp_path / "out")


def test_manifest_version_must_match_the_package(source_copy: Path, tmp_path: Path) -> None:
    path = source_copy / "manifest.yaml"
    old = f"version: {local_server.__version__}"
    assert old in path.read_text(), "test needs updating: the manifest's version line changed"
    path.write_text(path.read_text().replace(old, "version: 9.9.9", 1))
    with pytest.raises(pp.PackageError, match="differs from bge-local's"):
        pp.build_package(source_copy, tmp_path / "out")


def test_size_limit(source_copy: Path, tmp_path: Path) -> None:
    with pytest.raises(pp.PackageError, match="over Dify's limit"):
        pp.build_package(source_copy, tmp_path / "out", max_size=10_000)


def test_cli_command_builds_the_package(tmp_path: Path) -> None:
    """`bge-local package-plugin` as the lead's CLI wires it (local_server.cli -> plugin_package.register)."""
    out = subprocess.run(
        [sys.executable, "-m", "local_server", "package-plugin", "--output-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "bge_local-0.1.0.difypkg").is_file()
    assert "FORCE_VERIFYING_SIGNATURE=false" in out.stdout


def test_cli_reports_a_bad_plugin_without_a_traceback(source_copy: Path, tmp_path: Path) -> None:
    (source_copy / "manifest.yaml").write_text(
        (source_copy / "manifest.yaml").read_text().replace("type: plugin", "type: tool")
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "local_server.plugin_package",
            "package-plugin",
            "--source",
            str(source_copy),
            "--output-dir",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert out.returncode == 1
    assert "manifest type must be 'plugin'" in out.stderr
    assert "Traceback" not in out.stderr
