"""The server's numbers are FlagEmbedding's numbers: every route, against BGEM3FlagModel / FlagReranker
run in this process on the same tiny models (fp32, CPU)."""

from __future__ import annotations

import base64

import httpx
import numpy as np
import pytest

TEXTS = [
    "What is the capital of France? The capital of France is Paris.",
    "人工智能正在改变世界。",
    "Hello, world!",
    "Dense vectors capture meaning, sparse weights capture exact words. " * 20,
    "ColBERT keeps one vector per token.",
]
QUERY = "What is the capital of France?"
DOCS = ["The capital of Brazil is Brasilia.", "The capital of France is Paris.",
        "Horses and cows are both animals", "北京是中国的首都", "Paris " * 300]
TOL = 1e-5


@pytest.fixture(scope="module")
def reference(flag_models):
    embedder, reranker = flag_models
    out = embedder.encode(TEXTS, max_length=8192, return_dense=True, return_sparse=True,
                          return_colbert_vecs=True)
    scores = reranker.compute_score([[QUERY, d] for d in DOCS], normalize=True, max_length=8192)
    raw = reranker.compute_score([[QUERY, d] for d in DOCS], normalize=False, max_length=8192)
    return out, scores, raw, embedder


def _sparse_equal(got: dict, want: dict) -> None:
    assert set(got) == set(want), "the same tokens carry weight"
    for key, value in want.items():
        assert abs(got[key] - float(value)) < TOL


def test_all_three_outputs_in_one_call_equal_flagembedding(server, reference):
    out, *_ = reference
    body = httpx.post(server.url + "/v1/embeddings", json={
        "input": TEXTS, "model": "bge-m3", "return_sparse": True, "return_colbert_vecs": True}, timeout=60).json()
    assert [d["index"] for d in body["data"]] == list(range(len(TEXTS)))
    for i, item in enumerate(body["data"]):
        np.testing.assert_allclose(item["embedding"], out["dense_vecs"][i], atol=TOL)
        sparse = item["sparse_embedding"]
        _sparse_equal({str(k): v for k, v in zip(sparse["indices"], sparse["values"], strict=True)},
                      out["lexical_weights"][i])
        colbert = np.array(item["colbert_embedding"])
        assert colbert.shape == out["colbert_vecs"][i].shape
        np.testing.assert_allclose(colbert, out["colbert_vecs"][i], atol=TOL)


def test_base64_dense_and_colbert_decode_to_the_same_numbers(server, reference):
    out, *_ = reference
    body = httpx.post(server.url + "/v1/embeddings", json={
        "input": TEXTS[:2], "encoding_format": "base64", "return_colbert_vecs": True}, timeout=60).json()
    for i, item in enumerate(body["data"]):
        dense = np.frombuffer(base64.b64decode(item["embedding"]), dtype="<f4")
        np.testing.assert_allclose(dense, out["dense_vecs"][i], atol=TOL)
        colbert = np.frombuffer(base64.b64decode(item["colbert_embedding"]), dtype="<f4")
        np.testing.assert_allclose(colbert.reshape(item["colbert_shape"]), out["colbert_vecs"][i], atol=TOL)


def test_sparse_token_strings_match_convert_id_to_token(server, reference):
    out, _, _, embedder = reference
    body = httpx.post(server.url + "/v1/embeddings", json={
        "input": TEXTS[:3], "return_dense": False, "return_sparse_tokens": True}, timeout=60).json()
    for i, item in enumerate(body["data"]):
        assert "embedding" not in item
        by_token = dict(zip(item["sparse_embedding"]["tokens"], item["sparse_embedding"]["values"], strict=True))
        want = embedder.convert_id_to_token(out["lexical_weights"][i])
        _sparse_equal(by_token, want)


@pytest.mark.parametrize("mode", ["dense", "sparse", "colbert"])
def test_seed_embed_modes_equal_flagembedding(server, reference, mode):
    out, _, _, embedder = reference
    body = httpx.post(server.url + "/embed", json={"texts": TEXTS, "mode": mode, "max_length": 8192},
                      timeout=60).json()
    assert len(body["embeddings"]) == len(TEXTS)
    for i, got in enumerate(body["embeddings"]):
        if mode == "dense":
            np.testing.assert_allclose(got, out["dense_vecs"][i], atol=TOL)
        elif mode == "sparse":
            _sparse_equal(got, embedder.convert_id_to_token(out["lexical_weights"][i]))
        else:
            np.testing.assert_allclose(got, out["colbert_vecs"][i], atol=TOL)


def test_seed_embed_max_length_truncates_like_flagembedding(server, flag_models):
    embedder, _ = flag_models
    want = embedder.encode(TEXTS[3:4], max_length=16)["dense_vecs"][0]
    got = httpx.post(server.url + "/embed", json={"texts": TEXTS[3], "max_length": 16}).json()["embeddings"][0]
    np.testing.assert_allclose(got, want, atol=TOL)


def test_tei_embed_and_embed_sparse_equal_flagembedding(server, reference):
    out, *_ = reference
    dense = httpx.post(server.url + "/embed", json={"inputs": TEXTS}, timeout=60).json()
    np.testing.assert_allclose(np.array(dense), out["dense_vecs"], atol=TOL)
    sparse = httpx.post(server.url + "/embed_sparse", json={"inputs": TEXTS}, timeout=60).json()
    for i, pairs in enumerate(sparse):
        _sparse_equal({str(p["index"]): p["value"] for p in pairs}, out["lexical_weights"][i])


def test_long_input_is_truncated_to_8192_tokens_like_flagembedding(server, flag_models):
    embedder, _ = flag_models
    long_text = "retrieval augmented generation " * 4000  # far above 8192 tokens
    want = embedder.encode([long_text], max_length=8192)["dense_vecs"][0]
    body = httpx.post(server.url + "/v1/embeddings", json={"input": long_text}, timeout=120).json()
    np.testing.assert_allclose(body["data"][0]["embedding"], want, atol=TOL)
    assert body["usage"]["prompt_tokens"] == 8192


def test_rerank_scores_equal_flagreranker(server, reference):
    _, scores, raw, _ = reference
    body = httpx.post(server.url + "/v1/rerank", json={"query": QUERY, "documents": DOCS}, timeout=60).json()
    got = {r["index"]: r["relevance_score"] for r in body["results"]}
    assert sorted(got) == list(range(len(DOCS)))
    for i, want in enumerate(scores):
        assert abs(got[i] - want) < TOL
    assert [r["index"] for r in body["results"]] == list(np.argsort(-np.array(scores)))
    tei = httpx.post(server.url + "/rerank", json={"query": QUERY, "texts": DOCS, "raw_scores": True}).json()
    for r in tei:
        assert abs(r["score"] - raw[r["index"]]) < 1e-4


def test_vllm_score_equals_flagreranker(server, reference):
    _, scores, _, _ = reference
    body = httpx.post(server.url + "/score", json={"text_1": QUERY, "text_2": DOCS}).json()
    assert [d["index"] for d in body["data"]] == list(range(len(DOCS)))
    for d in body["data"]:
        assert abs(d["score"] - scores[d["index"]]) < TOL
    pairwise = httpx.post(server.url + "/v1/score", json={"text_1": [QUERY, QUERY], "text_2": DOCS[:2]}).json()
    assert [round(d["score"], 6) for d in pairwise["data"]] == [round(s, 6) for s in scores[:2]]


def test_long_documents_are_truncated_per_pair_like_flagreranker(server, flag_models):
    _, reranker = flag_models
    doc = "the capital of France is Paris " * 3000
    want = reranker.compute_score([[QUERY, doc]], normalize=True, max_length=8192)[0]
    body = httpx.post(server.url + "/rerank", json={"query": QUERY, "documents": [doc]}, timeout=120).json()
    assert abs(body["results"][0]["relevance_score"] - want) < TOL
    assert body["usage"]["total_tokens"] == 8192


def test_a_text_gets_flagembeddings_own_numbers_alone_and_in_any_company(server, flag_models):
    """The packed forward computes no padding: a text's vectors do not depend on what it is batched with, and
    equal what FlagEmbedding gives it alone (FlagEmbedding's own numbers move with its batch's padding)."""
    embedder, _ = flag_models
    text = TEXTS[2]
    want = embedder.encode([text], max_length=8192, return_dense=True, return_sparse=True)
    for company in ([text], [TEXTS[3], text, TEXTS[0]], [text, "Paris " * 300, text]):
        body = httpx.post(server.url + "/v1/embeddings", json={"input": company, "return_sparse": True},
                          timeout=60).json()
        for item in body["data"]:
            if company[item["index"]] != text:
                continue
            np.testing.assert_allclose(item["embedding"], want["dense_vecs"][0], atol=TOL)
            sparse = item["sparse_embedding"]
            _sparse_equal({str(k): v for k, v in zip(sparse["indices"], sparse["values"], strict=True)},
                          want["lexical_weights"][0])
