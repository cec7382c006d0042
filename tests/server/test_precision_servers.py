"""Real servers in each precision on the tiny models: /health says what runs, every client dialect the doctor
knows passes, and the embed (dense, sparse, ColBERT) and rerank answers agree with the fp32 server's (the
session's ``server``: the suite runs it at --precision fp32)."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
from support.server import ServerProcess

from local_server.tools import doctor
from local_server.tools.check_precision.measure import cosine, sparse_correlation

TEXTS = ["What is the capital of France?", "巴黎是法国的首都，也是最大的城市。", "Horses and cows are both animals.",
         "量子计算机利用量子叠加进行计算。" * 5]
RERANK = {"query": TEXTS[0], "documents": [*TEXTS[1:], "The capital of France is Paris."]}
# name -> (how the server is started, the precision /health must show for embedder and reranker; None: auto's)
CASES = {
    "bf16": ((("--precision", "bf16"), {}), ("bf16", "bf16")),
    "int8-env": (((), {"BGE_LOCAL_PRECISION": "int8"}), ("int8", "int8")),
    "auto-int8-embedder": ((("--precision", "auto", "--embedding-precision", "int8"), {}), ("int8", None)),
}
# the tiny models' agreement with fp32 (measured: tests/unit/test_precision.py), with the same margins
LIMITS = {"bf16": (0.999, 0.995, 0.999, 0.01), "int8": (0.999, 0.98, 0.998, 0.02), "fp32": (0.99999, 0.9999,
                                                                                           0.99999, 1e-4)}


@pytest.fixture(scope="module", params=list(CASES))
def case(request, tiny_models: Path, tmp_path_factory: pytest.TempPathFactory):
    (args, env), want = CASES[request.param]
    with ServerProcess(tiny_models, *args, env=env, log_dir=tmp_path_factory.mktemp("precision")) as proc:
        yield proc, want


def _precisions(server) -> tuple[str, str]:
    models = {m["type"]: m for m in httpx.get(server.url + "/health", timeout=30).json()["models"]}
    return models["embedding"]["precision"], models["reranker"]["precision"]


def _embed(server) -> list[dict]:
    body = {"input": TEXTS, "return_sparse": True, "return_colbert_vecs": True}
    resp = httpx.post(server.url + "/v1/embeddings", json=body, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


def test_health_says_what_runs(case, server):
    proc, want = case
    got = _precisions(proc)
    assert got[0] == want[0]
    assert got[1] == want[1] if want[1] else got[1] in ("fp32", "bf16")  # auto: bf16 only where native and fast
    assert _precisions(server) == ("fp32", "fp32")
    info = httpx.get(proc.url + "/info", timeout=30).json()
    assert [m["precision"] for m in info["models"]] == list(got)


def test_every_dialect_passes_the_doctor(case, capsys, monkeypatch):
    import json

    proc, _ = case
    monkeypatch.delenv("BGE_LOCAL_API_KEY", raising=False)
    rc = doctor.main([proc.url, "--json"])
    report = json.loads(capsys.readouterr().out)
    failed = {c["id"]: c["detail"] for c in report["checks"] if c["ok"] is not True}
    assert rc == 0 and not failed, failed


def test_embeddings_agree_with_fp32(case, server):
    proc, _ = case
    name = _precisions(proc)[0]
    dense_min, sparse_min, colbert_min, _ = LIMITS[name]
    for ref, got in zip(_embed(server), _embed(proc), strict=True):
        assert cosine(np.array(ref["embedding"]), np.array(got["embedding"])) >= dense_min
        ref_sparse = dict(zip(ref["sparse_embedding"]["indices"], ref["sparse_embedding"]["values"], strict=True))
        got_sparse = dict(zip(got["sparse_embedding"]["indices"], got["sparse_embedding"]["values"], strict=True))
        assert sparse_correlation(ref_sparse, got_sparse) >= sparse_min
        ref_colbert, got_colbert = np.array(ref["colbert_embedding"]), np.array(got["colbert_embedding"])
        assert ref_colbert.shape == got_colbert.shape
        assert float(np.mean(np.sum(ref_colbert * got_colbert, axis=1))) >= colbert_min


@pytest.mark.parametrize("path", ["/embed_sparse", "/embed"])
def test_tei_routes_agree_with_fp32(case, server, path):
    proc, _ = case
    ref = httpx.post(server.url + path, json={"inputs": TEXTS}, timeout=60)
    got = httpx.post(proc.url + path, json={"inputs": TEXTS}, timeout=60)
    assert ref.status_code == got.status_code == 200, got.text
    if path == "/embed":
        name = _precisions(proc)[0]
        assert min(cosine(np.array(a), np.array(b)) for a, b in zip(ref.json(), got.json(), strict=True)) \
            >= LIMITS[name][0]
    else:
        def weights(item: list[dict]) -> dict[int, float]:
            return {w["index"]: w["value"] for w in item}

        name = _precisions(proc)[0]
        for a, b in zip(ref.json(), got.json(), strict=True):
            assert sparse_correlation(weights(a), weights(b)) >= LIMITS[name][1]


@pytest.mark.parametrize("path", ["/v1/rerank", "/rerank", "/v2/rerank", "/api/rerank"])
def test_rerank_routes_agree_with_fp32(case, server, path):
    proc, _ = case
    body = {**RERANK, "model": "bge-reranker-v2-m3"}
    ref = httpx.post(server.url + path, json=body, timeout=60)
    got = httpx.post(proc.url + path, json=body, timeout=60)
    assert ref.status_code == got.status_code == 200, got.text

    def scores(answer: dict) -> dict[int, float]:
        return {r["index"]: r["relevance_score"] for r in answer["results"]}

    limit = LIMITS[_precisions(proc)[1]][3]
    want, have = scores(ref.json()), scores(got.json())
    assert want.keys() == have.keys() and max(abs(want[i] - have[i]) for i in want) <= limit
