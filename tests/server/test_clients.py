"""Every row of spec/clients.md against the real server: the real SDKs where users use them, and raw HTTP
replaying RAGFlow's, Dify's and TEI's exact URLs and bodies, asserting the fields each client reads."""

from __future__ import annotations

import base64
from urllib.parse import urljoin

import httpx
import numpy as np
import pytest

DOCS = ["Is it sunny today?", "The capital of France is Paris.", "Horses and cows are both animals"]


def dense(server, texts: list[str]) -> np.ndarray:
    body = httpx.post(server.url + "/v1/embeddings", json={"input": texts}, timeout=60).json()
    return np.array([d["embedding"] for d in body["data"]])


# ---- real SDKs ------------------------------------------------------------------------------------------

def test_openai_sdk_base64_default_and_float(server):
    from openai import OpenAI

    client = OpenAI(base_url=server.url + "/v1", api_key="EMPTY")
    texts = ["你好，世界", "Hello, world", "深度学习"]
    default = client.embeddings.create(model="BAAI/bge-m3", input=texts)  # SDK asks for base64
    floats = client.embeddings.create(model="BAAI/bge-m3", input=texts, encoding_format="float")
    want = dense(server, texts)
    assert [d.index for d in default.data] == [0, 1, 2]
    np.testing.assert_allclose([d.embedding for d in default.data], want, atol=1e-6)
    np.testing.assert_allclose([d.embedding for d in floats.data], want, atol=1e-6)
    assert default.usage.prompt_tokens > 0 and default.model == "bge-m3"


def test_openai_sdk_with_base_url_without_v1(server):
    from openai import OpenAI

    client = OpenAI(base_url=server.url, api_key="sk-anything")  # posts to /embeddings
    out = client.embeddings.create(model="bge-m3", input="ping")
    assert len(out.data[0].embedding) == len(dense(server, ["ping"])[0])


def test_langchain_openai_embeddings_token_arrays(server, cl100k_dir, monkeypatch):
    """LangChain tokenizes with tiktoken cl100k_base and sends token-id arrays; the server decodes them."""
    from langchain_openai import OpenAIEmbeddings

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cl100k_dir))  # the client side tokenizes too

    emb = OpenAIEmbeddings(model="text-embedding-3-small", base_url=server.url + "/v1", api_key="EMPTY")
    texts = ["The capital of France is Paris.", "Horses and cows are both animals"]
    got = np.array(emb.embed_documents(texts))
    np.testing.assert_allclose(got, dense(server, texts), atol=1e-6)
    np.testing.assert_allclose(emb.embed_query(texts[0]), dense(server, texts[:1])[0], atol=1e-6)


def test_langchain_without_token_arrays(server):
    from langchain_openai import OpenAIEmbeddings

    emb = OpenAIEmbeddings(model="bge-m3", base_url=server.url + "/v1", api_key="x",
                           check_embedding_ctx_length=False)
    np.testing.assert_allclose(emb.embed_documents(["hello"]), dense(server, ["hello"]), atol=1e-6)


def test_cohere_client_v1_and_v2(server):
    import cohere

    v1 = cohere.Client(api_key="x", base_url=server.url)  # posts to /v1/rerank
    r1 = v1.rerank(model="bge-reranker-v2-m3", query="What's the weather?", documents=DOCS, top_n=2)
    v2 = cohere.ClientV2(api_key="x", base_url=server.url)  # posts to /v2/rerank, explicit nulls
    r2 = v2.rerank(model="bge-reranker-v2-m3", query="What's the weather?", documents=DOCS)
    assert len(r1.results) == 2 and len(r2.results) == 3
    assert [r.index for r in r1.results] == [r.index for r in r2.results][:2]
    scores = [r.relevance_score for r in r2.results]
    assert scores == sorted(scores, reverse=True) and all(0 < s < 1 for s in scores)


def test_cohere_client_with_v1_base_hits_v1_v1_rerank(server):
    import cohere

    out = cohere.Client(api_key="x", base_url=server.url + "/v1").rerank(query="q", documents=DOCS, model="m")
    assert len(out.results) == 3


# ---- RAGFlow, replayed --------------------------------------------------------------------------------

def ragflow_openai_embeddings_url(u: str) -> str:  # RAGFlow <= 0.26 OpenAI-API-Compatible / VLLM
    return urljoin(u, "v1") + "/embeddings"


def ragflow_027_embeddings_url(u: str) -> str:
    import re

    return (u.rstrip("/") if re.search(r"/v\d", u) else u.rstrip("/") + "/v1") + "/embeddings"


def ragflow_old_rerank_url(u: str) -> str:  # <= 0.23: urljoin drops the path
    return urljoin(u, "/rerank")


def ragflow_new_rerank_url(u: str) -> str:  # >= 0.24
    return u if "/rerank" in u else u + "/rerank"


def host(u: str) -> str:
    parts = httpx.URL(u)
    return f"{parts.scheme}://{parts.host}:{parts.port}"


EMBEDDING_URLS = [
    ("RAGFlow OpenAI-compatible, bare host", lambda u: ragflow_openai_embeddings_url(u), ""),
    ("RAGFlow OpenAI-compatible, /v1", lambda u: ragflow_openai_embeddings_url(u), "/v1"),
    ("RAGFlow OpenAI-compatible, /v1/ gives /v1/v1", lambda u: ragflow_openai_embeddings_url(u), "/v1/"),
    ("RAGFlow 0.27, bare host", ragflow_027_embeddings_url, ""),
    ("RAGFlow 0.27, /v1", ragflow_027_embeddings_url, "/v1"),
    ("RAGFlow Xinference / LocalAI", lambda u: host(u) + "/v1/embeddings", "/v1"),
    ("RAGFlow GPUStack with /v1", lambda u: u + "/v1/embeddings", "/v1"),
    ("Dify OpenAI-API-compatible", lambda u: u.rstrip("/") + "/embeddings", "/v1"),
    ("Dify OpenAI-API-compatible without /v1", lambda u: u.rstrip("/") + "/embeddings", ""),
    ("Dify GPUStack strips /v1", lambda u: u.removesuffix("/v1") + "/v1/embeddings", "/v1"),
]


@pytest.mark.parametrize(("client", "build", "suffix"), EMBEDDING_URLS, ids=[e[0] for e in EMBEDDING_URLS])
def test_ragflow_and_dify_embedding_urls(server, client, build, suffix):
    url = build(server.url + suffix)
    body = {"input": ["chunk one", "chunk two"], "model": "bge-m3___OpenAI-API", "encoding_format": "float",
            "drop_params": True}
    resp = httpx.post(url, json=body, headers={"Authorization": "Bearer empty"})
    assert resp.status_code == 200, (url, resp.text)
    data = resp.json()
    assert data["model"] and data["object"] == "list"
    assert [d["index"] for d in data["data"]] == [0, 1]
    np.testing.assert_allclose([d["embedding"] for d in data["data"]], dense(server, body["input"]), atol=1e-6)
    assert data["usage"]["total_tokens"] > 0


def test_ragflow_localai_without_encoding_format_gets_base64_through_the_sdk(server):
    from openai import OpenAI

    client = OpenAI(base_url=server.url + "/v1", api_key="lm-studio")
    out = client.embeddings.create(model="bge-m3___LocalAI", input=["None"])
    np.testing.assert_allclose(out.data[0].embedding, dense(server, ["None"])[0], atol=1e-6)


RERANK_URLS = [
    ("RAGFlow <=0.23 with /v1 posts to host-root /rerank", ragflow_old_rerank_url, "/v1"),
    ("RAGFlow >=0.24 appends /rerank", ragflow_new_rerank_url, ""),
    ("RAGFlow >=0.24 with /v1", ragflow_new_rerank_url, "/v1"),
    ("RAGFlow >=0.24 pasted /rerank verbatim", ragflow_new_rerank_url, "/v1/rerank"),
    ("RAGFlow Xinference host-root /v1/rerank", lambda u: host(u) + "/v1/rerank", "/v1"),
    ("RAGFlow GPUStack /v1 gives /v1/v1/rerank", lambda u: u + "/v1/rerank", "/v1"),
    ("Dify OpenAI-compatible", lambda u: u + "/rerank", ""),
    ("MaxKB /v2/rerank", lambda u: u + "/v2/rerank", ""),
]


@pytest.mark.parametrize(("client", "build", "suffix"), RERANK_URLS, ids=[r[0] for r in RERANK_URLS])
def test_rerank_urls(server, client, build, suffix):
    url = build(server.url + suffix)
    resp = httpx.post(url, json={"model": "bge-reranker-v2-m3___OpenAI-API", "query": "capital of France",
                                 "documents": DOCS, "top_n": len(DOCS)})
    assert resp.status_code == 200, (url, resp.text)
    results = resp.json()["results"]
    assert sorted(r["index"] for r in results) == [0, 1, 2]
    assert all(0.0 <= r["relevance_score"] <= 1.0 for r in results)


def test_ragflow_xinference_string_booleans(server):
    resp = httpx.post(server.url + "/v1/rerank", json={"model": "bge-reranker-v2-m3", "query": "q", "documents": DOCS,
                                                       "return_documents": "true", "return_len": "true"})
    body = resp.json()
    assert resp.status_code == 200 and len(body["results"]) == 3
    assert {r["document"]["text"] for r in body["results"]} == set(DOCS)
    assert "meta" in body


def test_ragflow_vllm_cohere_return_documents_false(server):
    body = httpx.post(server.url + "/v1/rerank", json={"model": "m", "query": "q", "documents": DOCS, "top_n": 3,
                                                       "return_documents": False}).json()
    assert all("document" not in r for r in body["results"])


def test_ragflow_027_validation_call(server):
    body = httpx.post(server.url + "/rerank", json={"model": "bge-reranker-v2-m3", "query": "What's the weather?",
                                                    "documents": ["Is it sunny today?"]}, timeout=10).json()
    assert body["usage"]["total_tokens"] > 0 and len(body["results"]) == 1


def test_ragflow_huggingface_tei_embed_and_rerank(server):
    """RAGFlow "HuggingFace": POST U/embed {inputs}, no Authorization, reads a bare list."""
    resp = httpx.post(server.url + "/embed", json={"inputs": ["a chunk", "another"]}, timeout=30)
    vectors = resp.json()
    assert isinstance(vectors, list) and len(vectors) == 2
    np.testing.assert_allclose(vectors, dense(server, ["a chunk", "another"]), atol=1e-6)
    single = httpx.post(server.url + "/embed", json={"inputs": "one string"}).json()
    assert len(single) == 1 and len(single[0]) == len(vectors[0])
    ranked = httpx.post(server.url + "/rerank", json={"query": "q", "texts": DOCS, "raw_scores": False,
                                                      "truncate": True, "return_text": True}).json()
    assert isinstance(ranked, list) and {r["text"] for r in ranked} == set(DOCS)
    assert [r["score"] for r in ranked] == sorted((r["score"] for r in ranked), reverse=True)


def test_seed_custom_embed_as_ragflow_custom_sends_it(server):
    body = httpx.post(server.url + "/embed", json={"texts": ["人工智能"], "mode": "dense", "max_length": 8192}).json()
    assert len(body["embeddings"]) == 1 and len(body["embeddings"][0]) == dense(server, ["x"]).shape[1]


# ---- Dify, replayed -------------------------------------------------------------------------------------

def test_dify_openai_compatible_embedding_and_old_validation(server):
    # One text per request, Authorization "" when no key; older versions validate with a string input.
    resp = httpx.post(server.url + "/v1/embeddings", json={"model": "bge-m3", "input": "ping"},
                      headers={"Authorization": ""})
    assert resp.status_code == 200 and "model" in resp.json()


def test_dify_openai_compatible_rerank_validation_and_nulls(server):
    resp = httpx.post(server.url + "/rerank", json={"model": "bge-reranker-v2-m3", "query": "q",
                                                    "documents": DOCS, "top_n": None, "return_documents": True})
    results = resp.json()["results"]
    assert len(results) == 3 and all("document" in r for r in results)


def test_dify_tei_provider_calls(server):
    info = httpx.get(server.url + "/info").json()
    assert "embedding" in info["model_type"] and info["max_input_length"] == 8192
    assert info["max_client_batch_size"] >= 32
    tokens = httpx.post(server.url + "/tokenize", json={"inputs": ["hello world", "你好"]}).json()
    assert len(tokens) == 2 and all(isinstance(t["id"], int) for t in tokens[0])
    emb = httpx.post(server.url + "/v1/embeddings", json={"model": "bge-m3", "input": ["hello world"]}).json()
    assert emb["usage"]["total_tokens"] == len(tokens[0])


def test_vllm_user_score_and_rerank_without_v1(server):
    body = {"model": "/workspace/models/BAAI/bge-reranker-v2-m3", "encoding_format": "float",
            "text_1": "What is the capital of France?", "text_2": "The capital of France is Paris."}
    score = httpx.post(server.url + "/score", json=body).json()
    assert len(score["data"]) == 1 and 0 < score["data"][0]["score"] < 1
    rerank = httpx.post(server.url + "/rerank", json={"model": "/workspace/models/BAAI/bge-reranker-v2-m3",
                                                      "query": "q", "documents": DOCS}).json()
    assert len(rerank["results"]) == 3


def test_mem0_style_dimensions_1024_is_accepted_when_it_is_the_width(server):
    width = dense(server, ["x"]).shape[1]
    ok = httpx.post(server.url + "/v1/embeddings", json={"input": "x", "dimensions": width})
    assert ok.status_code == 200
    refused = httpx.post(server.url + "/v1/embeddings", json={"input": "x", "dimensions": width // 2})
    assert refused.status_code == 400
    assert "fixed-width" in refused.json()["error"]["message"]


def test_base64_is_real_little_endian_float32(server):
    body = httpx.post(server.url + "/v1/embeddings", json={"input": ["a"], "encoding_format": "base64"}).json()
    raw = base64.b64decode(body["data"][0]["embedding"])
    np.testing.assert_allclose(np.frombuffer(raw, "<f4"), dense(server, ["a"])[0], atol=1e-6)
