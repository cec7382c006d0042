"""Session fixtures: tiny models built offline, and the real server running on a free loopback port.

FlagEmbedding takes ~10 s to import, so the in-process reference models and each server process are
started once per session.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.cl100k import ensure_cl100k
from support.server import REPO, ServerProcess

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# The servers the suite starts run the reference precision (it compares them with FlagEmbedding at 1e-5), not
# --precision auto's bf16 on a CPU that has it; tests/server/test_precision_servers.py starts its own with --precision.
os.environ.setdefault("BGE_LOCAL_PRECISION", "fp32")

CACHE = REPO / ".cache"

# Markers by folder, so that a developer can run the fast part alone (README: testing); CI runs everything.
FOLDER_MARKS = {"deploy": "deploy", "robustness": "slow", "scale": "ray", "gpu": "gpu", "plugin": "slow"}
FILE_MARKS = {"test_console_browser.py": "browser"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        for mark in {FOLDER_MARKS.get(path.parent.name), FILE_MARKS.get(path.name)} - {None}:
            item.add_marker(getattr(pytest.mark, mark))


@pytest.fixture(scope="session")
def tiny_models() -> Path:
    """A directory holding tiny ``bge-m3`` and ``bge-reranker-v2-m3`` (built once, reused across runs)."""
    from local_server.tools.test_models import make_test_models

    target = CACHE / "tiny-models"
    if not (target / "bge-reranker-v2-m3" / "config.json").is_file():
        make_test_models(target, "tiny")
    return target


@pytest.fixture(scope="session")
def cl100k_dir() -> Path:
    """tiktoken's cache with cl100k_base, for the test clients that tokenize (never for the servers)."""
    return ensure_cl100k(CACHE / "tiktoken")


@pytest.fixture(scope="session", autouse=True)
def _client_side_tiktoken(cl100k_dir: Path):
    """Clients in this process (LangChain, Dify's OpenAI plugin) find cl100k_base without a download."""
    previous = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cl100k_dir)
    yield
    if previous is None:
        os.environ.pop("TIKTOKEN_CACHE_DIR", None)
    else:
        os.environ["TIKTOKEN_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def server(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory):
    """The server with both tiny models and no API key; its tiktoken cache is empty (token ids work offline)."""
    empty = tmp_path_factory.mktemp("empty-tiktoken-cache")
    with ServerProcess(tiny_models, env={"TIKTOKEN_CACHE_DIR": str(empty)},
                       log_dir=tmp_path_factory.mktemp("server-logs")) as proc:
        yield proc


@pytest.fixture(scope="session")
def keyed_server(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory):
    """The server with two API keys (``test-key-1`` and ``test-key-2``)."""
    with ServerProcess(tiny_models, "--api-key", "test-key-1", "--api-key", "test-key-2",
                       log_dir=tmp_path_factory.mktemp("server-logs")) as proc:
        yield proc


@pytest.fixture(scope="session")
def embedder_only_server(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory):
    """A server with the embedder alone (``--reranker-model none``), as in the two-GPU compose layout."""
    with ServerProcess(tiny_models, reranker=False, log_dir=tmp_path_factory.mktemp("emb-only")) as proc:
        yield proc


@pytest.fixture(scope="session")
def reranker_only_server(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory):
    """A server with the reranker alone (``--embedding-model none``)."""
    with ServerProcess(tiny_models, embedder=False, log_dir=tmp_path_factory.mktemp("rr-only")) as proc:
        yield proc


@pytest.fixture(scope="session")
def m3(tiny_models: Path):
    """The tiny bge-m3 runtime on the CPU, loaded once for every test that drives it in this process."""
    from local_server.engine.runtime import M3Runtime

    return M3Runtime(str(tiny_models / "bge-m3"), "cpu")


@pytest.fixture(scope="session")
def flag_models(tiny_models: Path):
    """FlagEmbedding's own classes on the same tiny models, in this process: the reference results."""
    from FlagEmbedding import BGEM3FlagModel, FlagReranker

    embedder = BGEM3FlagModel(str(tiny_models / "bge-m3"), use_fp16=False, devices=["cpu"])
    reranker = FlagReranker(str(tiny_models / "bge-reranker-v2-m3"), use_fp16=False, devices=["cpu"])
    return embedder, reranker
