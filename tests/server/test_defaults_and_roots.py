"""Issue 20's fixes and tolerances, on every path spelling and per-model base URL: rerank answers carry
``document`` unless ``return_documents: false``; TEI's root (``POST /``, ``/invocations``, a per-model base URL
itself) runs its model; ``dimensions: 0`` means unset; ``/v1/v2/rerank`` and ``/v1/v2/embed`` answer. With the
real cohere SDK (v1 and v2 clients) and huggingface_hub's ``InferenceClient``."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

DOCS = ["Is it sunny today?", "The capital of France is Paris.", "Horses and cows are both animals"]
QUERY = "What is the capital of France?"
RERANKER_URL = "/models/bge-reranker-v2-m3"
EMBEDDER_URL = "/models/bge-m3"
RERANK_PATHS = ["/rerank", "/v1/rerank", "/v2/rerank", "/v1/v2/rerank", "/v1/rerank/", "//v2/rerank",
                "/v1/v1/rerank", RERANKER_URL + "/v2/rerank", RERANKER_URL + "/v1/v2/rerank", RERANKER_URL + "/rerank"]


def post(server, path: str, body: dict) -> httpx.Response:
    return httpx.post(server.url + path, json=body, timeout=60)


def dense(server, texts: list[str]) -> np.ndarray:
    return np.array([d["embedding"] for d in post(server, "/v1/embeddings", {"input": texts}).json()["data"]])


def tei_scores(server, texts: list[str]) -> dict[int, float]:
    """The reference: TEI's /rerank answer for QUERY against ``texts``, index → score."""
    answer = post(server, "/rerank", {"query": QUERY, "texts": texts}).json()
    return {r["index"]: r["score"] for r in answer}


@pytest.mark.parametrize("path", RERANK_PATHS)
def test_rerank_answers_documents_by_default(server, path):
    answer = post(server, path, {"model": "bge-reranker-v2-m3", "query": QUERY, "documents": DOCS})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert sorted(r["index"] for r in results) == [0, 1, 2]
    assert all(r["document"] == {"text": DOCS[r["index"]]} for r in results)
    want = tei_scores(server, DOCS)
    assert [r["relevance_score"] for r in results] == pytest.approx([want[r["index"]] for r in results], abs=1e-6)


@pytest.mark.parametrize("path", ["/v2/rerank", "/v1/rerank", "/v1/v2/rerank", RERANKER_URL + "/rerank"])
def test_return_documents_false_is_honoured(server, path):
    answer = post(server, path, {"query": QUERY, "documents": DOCS, "return_documents": False}).json()
    assert len(answer["results"]) == 3 and all("document" not in r for r in answer["results"])


def test_ollama_rerank_leaves_documents_out_unless_asked(server):
    """/api/rerank is Dify's Ollama plugin's, which reads a present 'document' as the text itself."""
    results = post(server, "/api/rerank", {"query": QUERY, "documents": DOCS}).json()["results"]
    assert len(results) == 3 and all("document" not in r for r in results)
    asked = post(server, "/api/rerank", {"query": QUERY, "documents": DOCS, "return_documents": True}).json()
    assert all(r["document"]["text"] == DOCS[r["index"]] for r in asked["results"])


def test_object_documents_come_back_as_text(server):
    docs = [{"text": d} for d in DOCS]
    results = post(server, "/v1/rerank", {"query": QUERY, "documents": docs, "top_n": 2}).json()["results"]
    assert len(results) == 2 and all(r["document"]["text"] == DOCS[r["index"]] for r in results)


# ---- TEI's root -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/invocations", "//", EMBEDDER_URL + "/", EMBEDDER_URL,
                                  EMBEDDER_URL + "/invocations", "/models/BAAI/bge-m3/"])
def test_tei_root_embeds(server, path):
    texts = ["Hello, world", "深度学习"]
    answer = post(server, path, {"inputs": texts})
    assert answer.status_code == 200, answer.text
    np.testing.assert_allclose(answer.json(), dense(server, texts), atol=1e-6)
    one = post(server, path, {"inputs": "Hello, world"}).json()
    np.testing.assert_allclose(one, dense(server, ["Hello, world"]), atol=1e-6)


@pytest.mark.parametrize("path", ["/", "/invocations", RERANKER_URL + "/", RERANKER_URL, RERANKER_URL + "/invocations"])
def test_tei_root_reranks(server, path):
    answer = post(server, path, {"query": QUERY, "texts": DOCS, "return_text": True})
    assert answer.status_code == 200, answer.text
    want = tei_scores(server, DOCS)
    got = answer.json()
    assert [r["index"] for r in got] == sorted(want, key=want.__getitem__, reverse=True)
    assert all(r["score"] == pytest.approx(want[r["index"]], abs=1e-6) and r["text"] == DOCS[r["index"]] for r in got)


def test_tei_root_of_one_model_servers(embedder_only_server, reranker_only_server):
    """A one-model server is a TEI server: its root runs that model whatever the body."""
    vectors = post(embedder_only_server, "/", {"inputs": ["a b c"]}).json()
    assert len(vectors) == 1 and len(vectors[0]) > 1
    ranked = post(reranker_only_server, "/", {"query": QUERY, "texts": DOCS}).json()
    assert sorted(r["index"] for r in ranked) == [0, 1, 2]
    refused = post(reranker_only_server, "/", {"inputs": ["a"]})
    assert refused.status_code == 400 and "query" in refused.text


def test_reranker_url_refuses_embedding_bodies(server):
    answer = post(server, RERANKER_URL + "/", {"inputs": ["a"]})
    assert answer.status_code == 400 and "query" in answer.text
    answer = post(server, EMBEDDER_URL + "/", {"query": QUERY, "texts": DOCS})
    assert answer.status_code == 404 and RERANKER_URL in answer.text


def test_get_root_still_json_for_clients_and_console_for_browsers(server):
    api = httpx.get(server.url + "/", headers={"Accept": "application/json"})
    assert api.status_code == 200 and api.json()["name"] == "bge-local"
    browser = httpx.get(server.url + "/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.status_code == 307 and browser.headers["location"] == "ui/"


def test_huggingface_hub_inference_client_feature_extraction(server, monkeypatch):
    from huggingface_hub import InferenceClient, constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # the tests' guard against hub downloads; loopback here

    texts = ["The capital of France is Paris.", "Horses and cows are both animals"]
    for base in (server.url, server.url + EMBEDDER_URL):
        got = InferenceClient(base_url=base).feature_extraction(texts)
        np.testing.assert_allclose(got, dense(server, texts), atol=1e-6)


# ---- dimensions: 0, /v1/v2/… ----------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "body", "read"), [
    ("/v1/embeddings", {"input": ["x y"], "dimensions": 0}, lambda a: a["data"][0]["embedding"]),
    ("/api/embed", {"input": ["x y"], "dimensions": 0}, lambda a: a["embeddings"][0]),
    ("/v2/embed", {"texts": ["x y"], "output_dimension": 0}, lambda a: a["embeddings"]["float"][0]),
    (EMBEDDER_URL + "/v1/embeddings", {"input": ["x y"], "dimensions": 0}, lambda a: a["data"][0]["embedding"]),
])
def test_dimensions_zero_means_unset(server, path, body, read):
    answer = post(server, path, body)
    assert answer.status_code == 200, answer.text
    np.testing.assert_allclose(read(answer.json()), dense(server, ["x y"])[0], atol=1e-6)


def test_dimensions_other_than_the_width_still_refused(server):
    answer = post(server, "/v1/embeddings", {"input": ["x"], "dimensions": 7})
    assert answer.status_code == 400 and "dimensions" in answer.text


@pytest.mark.parametrize("path", ["/v1/v2/embed", EMBEDDER_URL + "/v1/v2/embed", "/v1/v2/embed/"])
def test_v1_v2_embed(server, path):
    answer = post(server, path, {"texts": ["x y"], "input_type": "search_document", "embedding_types": ["float"]})
    assert answer.status_code == 200, answer.text
    np.testing.assert_allclose(answer.json()["embeddings"]["float"], dense(server, ["x y"]), atol=1e-6)


# ---- the real cohere SDK ------------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", ["", "/v1", RERANKER_URL, RERANKER_URL + "/v1"])
def test_cohere_client_v2_rerank_and_embed(server, suffix):
    import cohere

    client = cohere.ClientV2(base_url=server.url + suffix, api_key="x")
    out = client.rerank(model="bge-reranker-v2-m3", query=QUERY, documents=DOCS, top_n=None)
    assert sorted(r.index for r in out.results) == [0, 1, 2]
    want = tei_scores(server, DOCS)
    assert all(r.relevance_score == pytest.approx(want[r.index], abs=1e-6) for r in out.results)
    # MaxKB reads result.document (cohere 5.x types it; newer SDKs keep the unknown field as an extra)
    assert all(r.document["text"] == DOCS[r.index] if isinstance(r.document, dict) else r.document.text == DOCS[r.index]
               for r in out.results)
    if RERANKER_URL not in suffix:
        texts = ["Hello, world", "深度学习"]
        emb = client.embed(model="bge-m3", texts=texts, input_type="search_document", embedding_types=["float"])
        np.testing.assert_allclose(emb.embeddings.float_, dense(server, texts), atol=1e-6)


def test_cohere_client_v1_rerank_returns_documents(server):
    import cohere

    client = cohere.Client(base_url=server.url, api_key="x")
    out = client.rerank(model="bge-reranker-v2-m3", query=QUERY, documents=DOCS)
    assert all(r.document.text == DOCS[r.index] for r in out.results)
    out = client.rerank(model="bge-reranker-v2-m3", query=QUERY, documents=DOCS, return_documents=False)
    assert all(r.document is None for r in out.results)
