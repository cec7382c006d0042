"""Apps that can't run here, replayed request for request from their sources: FastGPT, Open WebUI, AnythingLLM
(Node/TypeScript or whole web apps) and MaxKB (its vLLM reranker through the real cohere SDK). Each replay sends
what the app sends — URL, headers, body — and reads the answer the way the app reads it."""

from __future__ import annotations

import base64
import json

import httpx
import numpy as np
import pytest
from drivers._common import DOCS, QUERY, TEXTS
from support.client_checks import assert_ranking, own_dense

JSON = {"Content-Type": "application/json", "Authorization": "Bearer x"}


def node_openai_embeddings(base: str, body: dict) -> np.ndarray:
    """openai-node's embeddings.create: POST <baseURL>/embeddings, asking for base64 unless told otherwise, and
    decoding each vector as little-endian float32."""
    sent = {**body} if "encoding_format" in body else {**body, "encoding_format": "base64"}
    answer = httpx.post(base + "/embeddings", json=sent, headers=JSON, timeout=60)
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    if sent["encoding_format"] == "base64":
        return np.array([np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in data])
    return np.array([d["embedding"] for d in data])


# ---- FastGPT (packages/service/core/ai/embedding, core/ai/rerank) -------------------------------------------------

@pytest.mark.parametrize("encoding", [None, "float"])
def test_fastgpt_embedding(server, encoding):
    """getVectorsByText: ai.embeddings.create({...defaultConfig, model, input: [text]}) with the channel's base URL."""
    body = {"model": "bge-m3", "input": [TEXTS[1]], **({"encoding_format": encoding} if encoding else {})}
    got = node_openai_embeddings(server.url + "/v1", body)
    np.testing.assert_allclose(got, own_dense(server, TEXTS[1:2]), atol=1e-5)


@pytest.mark.parametrize("request_url", ["/v1/rerank", "/rerank"])
def test_fastgpt_rerank(server, request_url):
    """reRankRecall: POST model.requestUrl or <baseUrl>/rerank {model, query, documents}; maps results[].index to
    its own ids and keeps results[].relevance_score."""
    docs = [{"id": f"d{i}", "text": d} for i, d in enumerate(DOCS)]
    answer = httpx.post(server.url + request_url, headers=JSON, timeout=30,
                        json={"model": "bge-reranker-v2-m3", "query": QUERY, "documents": [d["text"] for d in docs]})
    results = answer.json()["results"]
    mapped = [(docs[r["index"]]["id"], r["relevance_score"]) for r in results]
    assert_ranking(server, [[int(i[1:]), s] for i, s in mapped], QUERY, DOCS)


# ---- Open WebUI (backend/open_webui/retrieval) -------------------------------------------------------------------

def test_open_webui_openai_embeddings(server):
    """RAG_EMBEDDING_ENGINE=openai: POST <url>/embeddings {"input": texts, "model"}, data[].embedding in order."""
    answer = httpx.post(server.url + "/v1/embeddings", headers=JSON, json={"input": TEXTS, "model": "bge-m3"})
    np.testing.assert_allclose([d["embedding"] for d in answer.json()["data"]], own_dense(server, TEXTS), atol=1e-5)


def test_open_webui_ollama_embeddings(server):
    """RAG_EMBEDDING_ENGINE=ollama: POST <url>/api/embed {"input": texts, "model"}, reads "embeddings"."""
    answer = httpx.post(server.url + "/api/embed", headers=JSON, json={"input": TEXTS, "model": "bge-m3"})
    np.testing.assert_allclose(answer.json()["embeddings"], own_dense(server, TEXTS), atol=1e-5)


@pytest.mark.parametrize("url", ["/v1/rerank", "/rerank"])
def test_open_webui_external_reranker(server, url):
    """ExternalReranker: probes the Cohere/Jina body once (a 422 would switch it to TEI's), then POSTs
    {model, query, documents, top_n: len(docs)} and reads results sorted by index: one score per document."""
    body = {"model": "bge-reranker-v2-m3", "query": QUERY, "documents": DOCS, "top_n": len(DOCS)}
    probe = httpx.post(server.url + url, headers=JSON, json=body, timeout=30)
    assert probe.status_code != 422  # stays on the Cohere format
    data = httpx.post(server.url + url, headers=JSON, json=body, timeout=30).json()
    scores = [r.get("relevance_score", r.get("score", 0.0)) for r in sorted(data["results"], key=lambda r: r["index"])]
    ranking = sorted(enumerate(scores), key=lambda p: p[1], reverse=True)
    assert_ranking(server, [list(p) for p in ranking], QUERY, DOCS)


# ---- AnythingLLM (server/utils/EmbeddingEngines) ----------------------------------------------------------------

def test_anythingllm_ollama_embedder(server):
    """OllamaEmbedder: fetch(<EMBEDDING_BASE_PATH>/api/embeddings, {method: POST, body: JSON string}) — no
    Content-Type header, so it goes as text/plain — one {model, prompt} per chunk; reads "embedding"."""
    for text, want in zip(TEXTS, own_dense(server, TEXTS), strict=True):
        body = json.dumps({"model": "bge-m3", "prompt": text}).encode()  # JSON.stringify
        answer = httpx.post(server.url + "/api/embeddings", timeout=30, content=body,
                            headers={"Content-Type": "text/plain;charset=UTF-8"})
        np.testing.assert_allclose(answer.json()["embedding"], want, atol=1e-5)


def test_anythingllm_generic_openai_embedder(server):
    """GenericOpenAiEmbedder: openai-node embeddings.create({model, input: chunk}) at EMBEDDING_BASE_PATH (…/v1)."""
    got = node_openai_embeddings(server.url + "/v1", {"model": "bge-m3", "input": TEXTS})
    np.testing.assert_allclose(got, own_dense(server, TEXTS), atol=1e-5)


# ---- MaxKB (apps/models_provider/impl/vllm_model_provider/model/reranker.py) --------------------------------------

@pytest.mark.parametrize("api_url", ["", "/v1"])
def test_maxkb_vllm_reranker(server, api_url):
    """VllmBgeReranker: the URL loses a trailing /v1, then cohere.ClientV2(api_key, base_url=…).rerank(model,
    query, documents) (POST /v2/rerank) and Document(page_content=d.document.get('text'), relevance_score)."""
    import cohere

    pasted = server.url + api_url
    base = pasted[:-3] if pasted.endswith("/v1") else pasted
    result = cohere.ClientV2("x", base_url=base).rerank(model="bge-reranker-v2-m3", query=QUERY, documents=DOCS)
    pages = [(d.document.get("text"), d.relevance_score) for d in result.results]
    ranking = [[DOCS.index(text), score] for text, score in pages]
    assert_ranking(server, ranking, QUERY, DOCS)
