"""The project as users and the images install it: an sdist and a wheel built from the tracked files, the wheel
installed (not editable) into a clean venv from locks/server-cpu.txt, and `bge-local serve` from that venv
answering real embedding and rerank requests on the tiny models.

The clean venv is made by uv from the wheelhouse that scripts/test.sh fills (scripts/wheelhouse.sh): offline,
no index, exactly the lock's pins.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import httpx
import numpy as np
import pytest
from packaging.utils import canonicalize_name
from support.checkout import copy_tracked, lock_pins, tracked
from support.server import REPO, ServerProcess

import local_server

LOCK = REPO / "locks" / "server-cpu.txt"
WHEELHOUSE = REPO / ".cache" / "wheelhouse" / "server-cpu"
# What the sdist must carry beside the package: the plugin (for `bge-local package-plugin`), the locks and the
# scripts that install from them.
SDIST_EXTRAS = ("manifest.yaml", "main.py", "requirements.txt", "provider/", "models/", "_assets/", "locks/",
                "scripts/")


def _build(src: Path, out: Path) -> tuple[Path, Path]:
    """sdist from the source tree, then the wheel from the unpacked sdist (as pip and `python -m build` do)."""
    build = "from setuptools import build_meta as b; import sys; print(getattr(b, sys.argv[1])(sys.argv[2]))"
    run = {"check": True, "capture_output": True, "text": True}
    sdist = out / subprocess.run([sys.executable, "-c", build, "build_sdist", str(out)], cwd=src, **run
                                 ).stdout.split()[-1]
    with tarfile.open(sdist) as tar:
        tar.extractall(out / "unpacked", filter="data")
    unpacked = next((out / "unpacked").iterdir())
    wheel = out / subprocess.run([sys.executable, "-c", build, "build_wheel", str(out)], cwd=unpacked, **run
                                 ).stdout.split()[-1]
    return sdist, wheel


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("build")
    src = copy_tracked(work / "src")
    dist = work / "dist"
    dist.mkdir()
    return _build(src, dist)


def _uv() -> str:
    local = Path(sys.executable).parent / "uv"
    found = str(local) if local.is_file() else shutil.which("uv")
    assert found, "uv is part of the test extra (locks/test.txt): run `bash scripts/setup_venv.sh test`"
    return found


@pytest.fixture(scope="module")
def clean_venv(built: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (WHEELHOUSE / ".complete").is_file():
        pytest.fail(f"no wheelhouse at {WHEELHOUSE}: scripts/test.sh makes it, or run "
                    f"`bash scripts/wheelhouse.sh locks/server-cpu.txt {WHEELHOUSE.relative_to(REPO)}`")
    venv = tmp_path_factory.mktemp("clean") / "venv"
    uv = _uv()
    run = {"check": True, "capture_output": True, "text": True}
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], **run)
    offline = ["--python", str(venv / "bin" / "python"), "--offline", "--no-index", "--find-links", str(WHEELHOUSE)]
    # --compile-bytecode: as pip does for users (and a start never pays for compiling torch in memory)
    subprocess.run([uv, "pip", "install", "--quiet", "--compile-bytecode", *offline, "-r", str(LOCK)], **run)
    subprocess.run([uv, "pip", "install", "--quiet", *offline, "--no-deps", str(built[1])], **run)
    return venv


def test_wheel_holds_every_package_file(built: tuple[Path, Path]) -> None:
    _, wheel = built
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [rel for rel in tracked("local_server") if rel not in names]
    assert not missing, f"the wheel lacks {missing}"
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n]
    metadata = zipfile.ZipFile(wheel).read(f"bge_local-{local_server.__version__}.dist-info/METADATA").decode()
    assert f"Version: {local_server.__version__}" in metadata.splitlines()


def test_sdist_holds_the_package_the_plugin_and_the_locks(built: tuple[Path, Path]) -> None:
    sdist, _ = built
    with tarfile.open(sdist) as tar:
        root = tar.getnames()[0].split("/")[0]
        names = {n.removeprefix(root + "/") for n in tar.getnames()}
    wanted = tracked("local_server") + [rel for rel in tracked() if rel.startswith(SDIST_EXTRAS)]
    missing = [rel for rel in wanted if rel not in names]
    assert not missing, f"the sdist lacks {missing}"


def test_clean_venv_holds_exactly_the_lock_and_the_wheel(clean_venv: Path, tmp_path: Path) -> None:
    frozen = subprocess.run([_uv(), "pip", "freeze", "--python", str(clean_venv / "bin" / "python")],
                            check=True, capture_output=True, text=True).stdout.splitlines()
    installed = {}
    for line in frozen:
        name, _, version = line.replace(" @ ", "==").partition("==")
        installed[canonicalize_name(name)] = version
    assert installed.pop("bge-local").endswith(f"bge_local-{local_server.__version__}-py3-none-any.whl")
    assert installed == lock_pins(LOCK)
    # Not the repository's copy: run from elsewhere, the package comes from the venv's site-packages.
    probe = ("import importlib.util, local_server; print(local_server.__file__); "
             "print(importlib.util.find_spec('FlagEmbedding') is None)")
    where, no_flag = subprocess.run([str(clean_venv / "bin" / "python"), "-c", probe], cwd=tmp_path, check=True,
                                    capture_output=True, text=True).stdout.split()
    assert Path(where).is_relative_to(clean_venv) and "site-packages" in where
    assert no_flag == "True", "FlagEmbedding is the tests' reference only, never part of the server install"


class _InstalledServer(ServerProcess):
    def __init__(self, venv: Path, models: Path, log_dir: Path):
        super().__init__(models, log_dir=log_dir, wait_ready=False)
        self.venv = venv

    def command(self) -> list[str]:
        return [str(self.venv / "bin" / "bge-local"), *super().command()[3:]]  # drop "python -m local_server"


@pytest.mark.timeout(1200)  # a fresh venv's first start compiles everything it imports; shared CPUs are slow
def test_installed_server_embeds_and_reranks(clean_venv: Path, tiny_models: Path, tmp_path: Path) -> None:
    from local_server.engine.runtime import M3Runtime, RerankerRuntime
    from local_server.engine.types import EmbedNeeds

    texts = ["The capital of France is Paris.", "人工智能正在改变世界。"]
    docs = ["Paris is in France.", "Horses are animals."]
    with _InstalledServer(clean_venv, tiny_models, tmp_path) as server:
        # A fresh install's first start also compiles every module it imports to bytecode: allow for it.
        server.wait_until_ready(timeout=600)
        version = httpx.get(server.url + "/info", timeout=10).json()
        body = httpx.post(server.url + "/v1/embeddings", json={
            "input": texts, "return_sparse": True, "return_colbert_vecs": True}, timeout=60).json()
        ranked = httpx.post(server.url + "/v1/rerank", json={"query": "capital of France", "documents": docs},
                            timeout=60).json()
    assert version["version"] == local_server.__version__
    # The same numbers as the runtime of this checkout, loaded here.
    embedder = M3Runtime(str(tiny_models / "bge-m3"), "cpu")
    want = embedder.forward(embedder.tokenizer.encode(texts, max_length=8192, truncate=True),
                            EmbedNeeds(dense=True, sparse=True, colbert=True))
    assert [d["index"] for d in body["data"]] == [0, 1]
    for item, ref in zip(body["data"], want, strict=True):
        np.testing.assert_allclose(item["embedding"], ref.dense, atol=1e-5)
        np.testing.assert_allclose(np.array(item["colbert_embedding"]), ref.colbert, atol=1e-5)
        sparse = dict(zip(item["sparse_embedding"]["indices"], item["sparse_embedding"]["values"], strict=True))
        assert sparse.keys() == ref.sparse.keys()
    reranker = RerankerRuntime(str(tiny_models / "bge-reranker-v2-m3"), "cpu")
    logits = reranker.forward(reranker.tokenizer.encode_pairs([("capital of France", d) for d in docs], max_length=8192,
                                                                   truncate=True))
    scores = {r["index"]: r["relevance_score"] for r in ranked["results"]}
    for i, logit in enumerate(logits):
        assert abs(scores[i] - 1 / (1 + np.exp(-logit))) < 1e-5
