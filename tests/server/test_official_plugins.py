"""Dify's official model-provider plugins, unmodified, against one server that serves both models.

Each plugin is driven by tests/support/clients.py the way its source does it (validation first, then the
invocation), with the real client library where the plugin uses one, from the URL a user pastes — keyless
(the API-key field empty, or ``x`` where the form requires one) and with the server's key.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from support import clients

TEXTS = ["The capital of France is Paris.", "巴黎是法国的首都，也是最大的城市。", "Horses and cows are both animals"]
QUERY = "What is the capital of France?"
DOCS = ["Paris is the capital of France.", "Horses are animals.", "巴黎是法国的首都。"]
EMBEDDER, RERANKER = "bge-m3", "bge-reranker-v2-m3"
KEY = "test-key-1"

# (plugin, pasted URL suffix, the API-key field on a keyless server)
EMBEDDING_FORMS = [
    ("Text Embedding Inference", f"/models/{EMBEDDER}", ""),
    ("Text Embedding Inference", f"/models/{EMBEDDER}/", ""),
    ("Text Embedding Inference", f"/models/{EMBEDDER}/v1", ""),
    ("Xorbits Inference", "", ""),
    ("Xorbits Inference", "/", ""),
    ("Cohere", "/v1", "x"),
    ("Cohere", "", "x"),
    ("Cohere", "/v1/", "x"),
    ("OpenAI", "", "x"),
    ("OpenAI", "/v1", "x"),
    ("OpenAI", "/v1/", "x"),
    ("Ollama", "", ""),
    ("Ollama", "/", ""),
    ("Ollama", f"/models/{EMBEDDER}", ""),
    ("OpenAI-API-compatible", "/v1", ""),
    ("GPUStack", "", ""),
    ("GPUStack", "/v1", ""),
]
RERANK_FORMS = [
    ("Text Embedding Inference", f"/models/{RERANKER}", ""),
    ("Text Embedding Inference", f"/models/{RERANKER}/v1", ""),
    ("Xorbits Inference", "", ""),
    ("Cohere", "/v1", "x"),
    ("Cohere", "", "x"),
    ("Ollama", "", ""),
    ("Ollama", f"/models/{RERANKER}", ""),
    ("OpenAI-API-compatible", "", ""),
    ("OpenAI-API-compatible", "/v1", ""),
    ("GPUStack", "", ""),
]


def reference_vectors(server, texts: list[str]) -> np.ndarray:
    body = httpx.post(server.url + "/v1/embeddings", json={"input": texts}, headers=server.headers(), timeout=60)
    return np.array([d["embedding"] for d in body.json()["data"]])


def reference_scores(server, query: str, docs: list[str]) -> dict[int, float]:
    body = httpx.post(server.url + "/v1/rerank", json={"query": query, "documents": docs}, headers=server.headers(),
                      timeout=60).json()
    return {r["index"]: r["relevance_score"] for r in body["results"]}


@pytest.fixture(params=["keyless", "keyed"])
def target(request, server, keyed_server):
    """(server, key to type) for a keyless server and for one with keys."""
    return (server, None) if request.param == "keyless" else (keyed_server, KEY)


@pytest.mark.parametrize(("plugin", "suffix", "keyless_key"), EMBEDDING_FORMS,
                         ids=[f"{p}{s or ' root'}" for p, s, _ in EMBEDDING_FORMS])
def test_embedding_plugins(target, plugin, suffix, keyless_key):
    server, key = target
    got = clients.DIFY_EMBEDDING[plugin](server.url + suffix, key or keyless_key, EMBEDDER, TEXTS)
    np.testing.assert_allclose(got, reference_vectors(server, TEXTS), atol=2e-6)


@pytest.mark.parametrize(("plugin", "suffix", "keyless_key"), RERANK_FORMS,
                         ids=[f"{p}{s or ' root'}" for p, s, _ in RERANK_FORMS])
def test_rerank_plugins(target, plugin, suffix, keyless_key):
    server, key = target
    got = clients.DIFY_RERANK[plugin](server.url + suffix, key or keyless_key, RERANKER, QUERY, DOCS)
    want = reference_scores(server, QUERY, DOCS)
    assert got.keys() == want.keys()
    np.testing.assert_allclose([got[i] for i in want], list(want.values()), atol=1e-6)


@pytest.mark.parametrize("plugin", ["Text Embedding Inference", "Xorbits Inference", "Cohere", "OpenAI", "Ollama"])
def test_a_wrong_key_fails_validation(keyed_server, plugin):
    suffix = {"Text Embedding Inference": f"/models/{EMBEDDER}", "Cohere": "/v1"}.get(plugin, "")
    with pytest.raises(clients.ClientFailed, match=r"401|[Uu]nauthori|invalid API key"):
        clients.DIFY_EMBEDDING[plugin](keyed_server.url + suffix, "wrong-key", EMBEDDER, ["ping"])


def test_tei_validation_at_the_servers_root_describes_the_embedder_only(server):
    """Why TEI users get one URL per model: a TEI server is one model, and /info says which."""
    assert clients.dify_tei_info(server.url, "")["type"] == "embedding"
    with pytest.raises(clients.ClientFailed, match="not a rerank model"):
        clients.dify_tei_rerank(server.url, "", RERANKER, QUERY, DOCS)
    assert clients.dify_tei_info(f"{server.url}/models/{RERANKER}", "")["type"] == "reranker"


def test_tei_info_per_model_reports_its_limits(server):
    for name in (EMBEDDER, RERANKER):
        info = httpx.get(f"{server.url}/models/{name}/info").json()
        assert info["model_id"] == name
        assert info["max_input_length"] > 0 and info["max_client_batch_size"] >= 32


def test_openai_plugin_token_ids_work_on_a_server_without_any_tiktoken_cache(server):
    """The plugin always sends cl100k token ids: the server decodes them with no download and no cache dir."""
    text = "Token ids, decoded offline: 東京は日本の首都です。"
    got = clients.dify_openai_embedding(server.url, "x", "text-embedding-3-small", [text])
    np.testing.assert_allclose(got, reference_vectors(server, [text]), atol=2e-6)
