"""Where models come from: a hub id fetched through HF_ENDPOINT (a mirror, here a stand-in hub on 127.0.0.1),
only the files inference needs; the cache reused offline; a bad source stops the server with a clear reason."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from support.fake_hub import FakeHub
from support.server import REPO, ServerProcess, free_port

JUNK = {"onnx/model.onnx": b"not needed", "imgs/bm25.jpg": b"not needed", ".gitattributes": b"*.bin lfs"}


def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def _as_pytorch_bin(files: dict[str, bytes]) -> dict[str, bytes]:
    """BAAI/bge-m3's main branch ships pytorch_model.bin, not model.safetensors: mirror that layout."""
    import torch
    from safetensors.torch import load

    state = load(files.pop("model.safetensors"))
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return {**files, "pytorch_model.bin": buffer.getvalue()}


@pytest.fixture(scope="module")
def hub(tiny_models):
    repos = {
        "BAAI/bge-m3": {**_as_pytorch_bin(_files(tiny_models / "bge-m3")), **JUNK},
        "BAAI/bge-reranker-v2-m3": {**_files(tiny_models / "bge-reranker-v2-m3"), **JUNK},
    }
    with FakeHub(repos) as h:
        yield h


def test_hub_ids_are_fetched_through_hf_endpoint_then_served_offline(hub, server, tmp_path):
    cache = tmp_path / "hf-cache"
    args = ("--embedding-model", "BAAI/bge-m3", "--reranker-model", "BAAI/bge-reranker-v2-m3", "--cache-dir",
            str(cache))
    online = {"HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0", "HF_ENDPOINT": hub.url,
              "HF_HUB_DISABLE_TELEMETRY": "1", "NO_PROXY": "127.0.0.1"}
    texts = ["fetched through a mirror", "人工智能"]
    want = httpx.post(server.url + "/v1/embeddings", json={"input": texts}).json()["data"]
    with ServerProcess(None, *args, env=online, log_dir=tmp_path) as fetched:
        got = httpx.post(fetched.url + "/v1/embeddings", json={"input": texts, "model": "BAAI/bge-m3"}).json()
        np.testing.assert_allclose([d["embedding"] for d in got["data"]], [d["embedding"] for d in want], atol=1e-5)
        assert got["model"] == "bge-m3"
        assert httpx.post(fetched.url + "/rerank", json={"query": "q", "documents": ["a"]}).status_code == 200
    for repo in ("BAAI/bge-m3", "BAAI/bge-reranker-v2-m3"):
        fetched_files = hub.downloaded(repo)
        assert fetched_files and not [f for f in fetched_files if f in JUNK], fetched_files
    assert "pytorch_model.bin" in hub.downloaded("BAAI/bge-m3")

    # Offline, from the cache alone (the way an air-gapped box runs after a first start elsewhere).
    requests_before = len(hub.requests)
    with ServerProcess(None, *args, env={"HF_HUB_OFFLINE": "1"}, log_dir=tmp_path) as offline:
        assert httpx.post(offline.url + "/v1/embeddings", json={"input": texts}).status_code == 200
    assert len(hub.requests) == requests_before


def test_a_missing_model_directory_stops_the_server_with_the_reason(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "local_server", "serve", "--host", "127.0.0.1", "--port", str(free_port()),
         "--embedding-model", str(tmp_path / "nowhere" / "bge-m3"), "--reranker-model", "none"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_an_unreachable_hub_says_what_to_do(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [sys.executable, "-m", "local_server", "serve", "--host", "127.0.0.1", "--port", str(free_port()),
         "--embedding-model", "BAAI/bge-m3", "--reranker-model", "none", "--cache-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "0", "HF_ENDPOINT": dead, "HF_HUB_ETAG_TIMEOUT": "2",
             "HF_HUB_DOWNLOAD_TIMEOUT": "2"},
    )
    assert result.returncode == 1
    assert "hf-mirror.com" in result.stderr and "bge-local download" in result.stderr
