"""bge-m3's hybrid score on every rerank route, body and per-model URL of the real server (tiny models), against
FlagEmbedding's ``BGEM3FlagModel.compute_score`` run in this process; weights per server and per request, the
cascade into the cross-encoder, and the servers that run one model only."""

from __future__ import annotations

import httpx
import pytest
from support import clients
from support.server import ServerProcess

QUERY = "What is the capital of France?"
DOCS = ["The capital of Brazil is Brasilia.", "The capital of France is Paris.", "Horses and cows are animals",
        "北京是中国的首都", "What is the capital of France? Paris, France's capital.", "Paris " * 700]
TOL = 1e-5
KEYS = ("dense", "sparse", "colbert")


def _weighted(components: dict[str, float], weights: list[float]) -> float:
    return sum(w * components[k] for w, k in zip(weights, KEYS, strict=True)) / sum(weights)


def _clip(x: float) -> float:
    return min(1.0, max(0.0, x))


@pytest.fixture(scope="module")
def reference(flag_models) -> list[dict[str, float]]:
    """FlagEmbedding's components for (QUERY, each of DOCS), at its default lengths (512 and 512)."""
    embedder, _ = flag_models
    out = embedder.compute_score([[QUERY, d] for d in DOCS], weights_for_different_modes=[0.4, 0.2, 0.4])
    return [{"dense": out["dense"][i], "sparse": out["sparse"][i], "colbert": out["colbert"][i],
             "hybrid": out["colbert+sparse+dense"][i]} for i in range(len(DOCS))]


@pytest.fixture(scope="module")
def tuned(tiny_models, tmp_path_factory):
    """Both models; the hybrid named 'my-hybrid', weighing the dense score alone, keeping 8 tokens of a query and
    16 of a document; at most 8 documents."""
    with ServerProcess(tiny_models, "--hybrid-weights", "1,0,0", "--hybrid-names", "my-hybrid",
                       "--hybrid-query-max-length", "8", "--hybrid-passage-max-length", "16",
                       "--max-rerank-documents", "8", log_dir=tmp_path_factory.mktemp("hybrid-tuned")) as proc:
        yield proc


def post(server, path: str, body: dict) -> httpx.Response:
    return httpx.post(server.url + path, json=body, headers=server.headers(), timeout=60)


def _by_index(results: list[dict], key: str = "relevance_score") -> dict[int, float]:
    return {r["index"]: r[key] for r in results}


def test_every_component_and_the_sum_equal_compute_score(server, reference):
    body = post(server, "/v1/rerank", {"model": "bge-m3-hybrid", "query": QUERY, "documents": DOCS,
                                       "return_components": True, "raw_scores": True}).json()
    assert body["model"] == "bge-m3-hybrid" and len(body["results"]) == len(DOCS)
    scores = [r["relevance_score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)
    for r in body["results"]:
        want = reference[r["index"]]
        for key in (*KEYS, "hybrid"):
            assert r["components"][key] == pytest.approx(want[key], abs=TOL), key
        assert r["relevance_score"] == pytest.approx(want["hybrid"], abs=TOL)  # raw: unclipped
    assert max(scores) > 1  # the sparse score is unbounded: the raw sum leaves 0..1 here
    assert body["usage"]["total_tokens"] > 0


def test_scores_are_the_sum_clipped_to_0_1(server, reference):
    body = post(server, "/v1/rerank", {"model": "bge-m3-hybrid", "query": QUERY, "documents": DOCS}).json()
    got = _by_index(body["results"])
    assert got == pytest.approx({i: _clip(ref["hybrid"]) for i, ref in enumerate(reference)}, abs=TOL)
    assert all(0 <= s <= 1 for s in got.values()) and "components" not in body["results"][0]


@pytest.mark.parametrize("path", ["/v1/rerank", "/rerank", "/v2/rerank", "/v1/v2/rerank", "/api/rerank"])
@pytest.mark.parametrize("model", ["bge-m3-hybrid", "bge-m3", "BAAI/bge-m3", "bge-m3___OpenAI-API-Compatible",
                                   "BGE-M3-Hybrid:latest"])
def test_every_path_and_name_reaches_the_hybrid(server, reference, path, model):
    docs = [{"text": d} for d in DOCS] if path == "/v2/rerank" else DOCS
    body = post(server, path, {"model": model, "query": QUERY, "documents": docs, "top_n": 3}).json()
    want = sorted(((_clip(r["hybrid"]), i) for i, r in enumerate(reference)), reverse=True)[:3]
    assert [r["index"] for r in body["results"]] == [i for _, i in want]
    assert [r["relevance_score"] for r in body["results"]] == pytest.approx([s for s, _ in want], abs=TOL)
    assert ("document" in body["results"][0]) == (path != "/api/rerank")  # Ollama's route leaves it out


def test_tei_body_answers_a_bare_list_with_components(server, reference):
    body = post(server, "/rerank", {"model": "bge-m3", "query": QUERY, "texts": DOCS, "return_text": True,
                                    "return_components": True}).json()
    assert isinstance(body, list) and len(body) == len(DOCS)
    for item in body:
        assert item["text"] == DOCS[item["index"]]
        assert item["score"] == pytest.approx(_clip(reference[item["index"]]["hybrid"]), abs=TOL)
        assert item["components"]["colbert"] == pytest.approx(reference[item["index"]]["colbert"], abs=TOL)


def test_top_n_and_return_documents(server):
    body = post(server, "/v1/rerank", {"model": "bge-m3-hybrid", "query": QUERY, "documents": DOCS, "top_n": 2,
                                       "return_documents": False}).json()
    assert len(body["results"]) == 2 and all("document" not in r for r in body["results"])
    body = post(server, "/api/rerank", {"model": "bge-m3-hybrid", "query": QUERY, "documents": DOCS, "top_n": 0,
                                        "return_documents": True}).json()
    assert len(body["results"]) == len(DOCS)
    assert all(r["document"]["text"] == DOCS[r["index"]] for r in body["results"])


def test_vllm_score_pairs_by_the_hybrid_score(server, reference):
    body = post(server, "/score", {"model": "bge-m3-hybrid", "text_1": QUERY, "text_2": DOCS}).json()
    assert [d["score"] for d in body["data"]] == pytest.approx([_clip(r["hybrid"]) for r in reference], abs=TOL)
    pairwise = post(server, "/v1/score", {"model": "bge-m3", "text_1": [QUERY, QUERY], "text_2": DOCS[:2]}).json()
    assert [d["score"] for d in pairwise["data"]] == pytest.approx(
        [_clip(r["hybrid"]) for r in reference[:2]], abs=TOL)


@pytest.mark.parametrize("weights", [[1, 1, 1], [0, 1, 0], {"dense": 2, "colbert": 1}])
def test_per_request_weights(server, reference, weights):
    as_list = [weights.get(k, 0) for k in KEYS] if isinstance(weights, dict) else weights
    body = post(server, "/v1/rerank", {"model": "bge-m3-hybrid", "query": QUERY, "documents": DOCS,
                                       "hybrid_weights": weights, "raw_scores": True}).json()
    got = _by_index(body["results"])
    assert got == pytest.approx({i: _weighted(r, as_list) for i, r in enumerate(reference)}, abs=TOL)


@pytest.mark.parametrize("weights", [[-1, 1, 1], [0, 0, 0], [0.5, 0.5], [0.1, 0.2, 0.3, 0.4], ["a", 1, 1],
                                     {"dense": 1, "bm25": 1}, "heavy", {"dense": -2}])
@pytest.mark.parametrize("shape", ["documents", "texts"])
def test_bad_weights_are_a_400_json(server, weights, shape):
    resp = post(server, "/rerank", {"model": "bge-m3-hybrid", "query": QUERY, shape: DOCS[:2],
                                    "hybrid_weights": weights})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "invalid_hybrid_weights" and "hybrid_weights" in resp.json()["detail"]


def test_per_server_weights_lengths_names_and_document_limit(tuned, flag_models):
    embedder, _ = flag_models
    want = embedder.compute_score([[QUERY, d] for d in DOCS], max_query_length=8, max_passage_length=16,
                                  weights_for_different_modes=[1, 0, 0])
    body = post(tuned, "/v1/rerank", {"model": "my-hybrid", "query": QUERY, "documents": DOCS,
                                      "return_components": True}).json()
    assert body["model"] == "my-hybrid"
    assert _by_index(body["results"]) == pytest.approx(dict(enumerate(map(_clip, want["dense"]))), abs=TOL)
    for key in ("dense", "sparse"):
        assert {r["index"]: r["components"][key] for r in body["results"]} == pytest.approx(
            dict(enumerate(want[key])), abs=TOL)
    over = post(tuned, "/v1/rerank", {"model": "my-hybrid", "query": QUERY, "documents": ["x"] * 9})
    assert over.status_code == 413 and "--max-rerank-documents" in over.json()["detail"]
    health = httpx.get(tuned.url + "/health").json()
    embedder = next(m for m in health["models"] if m["type"] == "embedding")
    assert embedder["also_serves"][0] == {"name": "my-hybrid", "type": "hybrid", "aliases": [],
                                          "weights": {"dense": 1.0, "sparse": 0.0, "colbert": 0.0},
                                          "max_query_length": 8, "max_passage_length": 16}


def test_health_models_and_name_lookups_list_the_hybrid(server):
    health = httpx.get(server.url + "/health").json()
    assert {m["type"] for m in health["models"]} == {"embedding", "reranker"}  # loaded models only
    embedder = next(m for m in health["models"] if m["type"] == "embedding")
    assert embedder["also_serves"][0]["weights"] == {"dense": 0.4, "sparse": 0.2, "colbert": 0.4}
    listed = {m["id"]: m for m in httpx.get(server.url + "/v1/models").json()["data"]}
    assert listed["bge-m3-hybrid"]["type"] == "hybrid" and listed["bge-m3-hybrid"]["model_type"] == "rerank"
    assert listed["bge-m3-hybrid"]["weights"] == {"dense": 0.4, "sparse": 0.2, "colbert": 0.4}
    assert httpx.get(server.url + "/v1/models/bge-m3-hybrid").json()["model_type"] == "rerank"  # Xinference
    show = httpx.post(server.url + "/api/show", json={"model": "bge-m3-hybrid"}).json()  # Ollama
    assert show["capabilities"] == ["rerank"]
    assert "bge-m3-hybrid" in {m["name"] for m in httpx.get(server.url + "/api/tags").json()["models"]}


def test_cascade_shortlists_by_hybrid_then_ranks_by_the_cross_encoder(server, reference):
    body = post(server, "/v1/rerank", {"model": "bge-m3-hybrid", "query": QUERY, "documents": DOCS,
                                       "cascade_k": 3, "return_components": True}).json()
    shortlist = sorted(range(len(DOCS)), key=lambda i: -reference[i]["hybrid"])[:3]
    assert sorted(r["index"] for r in body["results"]) == sorted(shortlist)
    cross = post(server, "/v1/rerank", {"model": "bge-reranker-v2-m3", "query": QUERY,
                                        "documents": [DOCS[i] for i in shortlist]}).json()
    want = {shortlist[r["index"]]: r["relevance_score"] for r in cross["results"]}
    assert [r["index"] for r in body["results"]] == sorted(want, key=lambda i: -want[i])
    assert _by_index(body["results"]) == pytest.approx(want, abs=1e-6)
    assert all(r["components"]["hybrid"] == pytest.approx(reference[r["index"]]["hybrid"], abs=TOL)
               for r in body["results"])
    hybrid_only = post(server, "/v1/rerank", {"model": "bge-m3-hybrid", "query": QUERY, "documents": DOCS}).json()
    assert body["usage"]["total_tokens"] > hybrid_only["usage"]["total_tokens"]  # + the k pairs
    top = post(server, "/rerank", {"model": "bge-m3", "query": QUERY, "texts": DOCS, "cascade_k": 3,
                                   "top_n": 2}).json()
    assert [r["index"] for r in top] == [r["index"] for r in body["results"][:2]]
    assert len(post(server, "/v1/rerank", {"model": "bge-m3", "query": QUERY, "documents": DOCS[:2],
                                           "cascade_k": 50}).json()["results"]) == 2  # k clamped to the count


def test_cascade_k_must_be_positive_and_hybrid_fields_are_refused_for_the_cross_encoder(server):
    resp = post(server, "/v1/rerank", {"model": "bge-m3-hybrid", "query": QUERY, "documents": DOCS, "cascade_k": 0})
    assert resp.status_code == 400 and "cascade_k" in resp.json()["detail"]
    resp = post(server, "/v1/rerank", {"model": "bge-reranker-v2-m3", "query": QUERY, "documents": DOCS,
                                       "cascade_k": 2})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "hybrid_only"
    assert "bge-m3-hybrid" in resp.json()["detail"]


def test_truncate_false_refuses_a_document_over_the_hybrid_limit(server):
    resp = post(server, "/rerank", {"model": "bge-m3-hybrid", "query": QUERY, "texts": DOCS, "truncate": False})
    assert resp.status_code == 413 and "512" in resp.json()["detail"]


def test_the_hybrids_own_model_url(server, reference):
    base = server.url + "/models/bge-m3-hybrid"
    info = httpx.get(base + "/info").json()
    assert list(info["model_type"]) == ["reranker"] and info["model_id"] == "bge-m3-hybrid"
    for path, body in (("/v1/rerank", {"query": QUERY, "documents": DOCS}),
                       ("/rerank", {"query": QUERY, "texts": DOCS, "model": "whatever"}),
                       ("/", {"query": QUERY, "texts": DOCS})):
        answer = httpx.post(base + path, json=body, timeout=60).json()
        results = answer["results"] if isinstance(answer, dict) else answer
        key = "relevance_score" if isinstance(answer, dict) else "score"
        assert _by_index(results, key) == pytest.approx(
            {i: _clip(r["hybrid"]) for i, r in enumerate(reference)}, abs=TOL), path
    cascade = httpx.post(base + "/v1/rerank", json={"query": QUERY, "documents": DOCS, "cascade_k": 2}).json()
    assert len(cascade["results"]) == 2
    resp = httpx.post(base + "/v1/embeddings", json={"input": "x"})
    assert resp.status_code == 404 and "/models/bge-m3" in resp.json()["detail"]
    resp = httpx.post(server.url + "/models/bge-m3/rerank", json={"query": QUERY, "texts": DOCS})
    assert resp.status_code == 404 and "/models/bge-m3-hybrid" in resp.json()["detail"]  # the embedder's URL


@pytest.mark.parametrize("client", sorted(clients.DIFY_RERANK))
def test_dify_rerank_plugins_given_the_hybrid_name(server, reference, client):
    url = server.url + "/models/bge-m3-hybrid" if client == "Text Embedding Inference" else server.url
    got = clients.DIFY_RERANK[client](url, "x", "bge-m3-hybrid", QUERY, DOCS)
    assert got == pytest.approx({i: _clip(r["hybrid"]) for i, r in enumerate(reference)}, abs=TOL)


@pytest.mark.parametrize("provider", clients.RAGFLOW_RERANK_PROVIDERS)
def test_ragflow_rerank_providers_given_the_hybrid_name(server, reference, provider):
    url = server.url + "/models/bge-m3-hybrid" if provider == "HuggingFace" else server.url
    got = clients.ragflow_rerank(provider, clients.RAGFLOW_VERSIONS[-1])(url, "x", "bge-m3-hybrid", QUERY, DOCS)
    assert got == pytest.approx({i: _clip(r["hybrid"]) for i, r in enumerate(reference)}, abs=TOL)


def test_an_embedder_only_server_serves_the_hybrid(embedder_only_server, reference):
    body = post(embedder_only_server, "/v1/rerank", {"model": "bge-m3", "query": QUERY, "documents": DOCS}).json()
    assert _by_index(body["results"]) == pytest.approx(
        {i: _clip(r["hybrid"]) for i, r in enumerate(reference)}, abs=TOL)
    resp = post(embedder_only_server, "/v1/rerank", {"model": "bge-reranker-v2-m3", "query": QUERY,
                                                     "documents": DOCS})
    assert resp.status_code == 404 and "bge-m3-hybrid" in resp.json()["detail"]
    resp = post(embedder_only_server, "/v1/rerank", {"model": "bge-m3-hybrid", "query": QUERY, "documents": DOCS,
                                                     "cascade_k": 2})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "reranker_not_served"
    assert "--reranker-model" in resp.json()["detail"]


def test_a_reranker_only_server_has_no_hybrid(reranker_only_server):
    resp = post(reranker_only_server, "/v1/rerank", {"model": "bge-m3-hybrid", "query": QUERY, "documents": DOCS})
    assert resp.status_code == 404 and "--embedding-model" in resp.json()["detail"]
    assert "also_serves" not in httpx.get(reranker_only_server.url + "/health").json()["models"][0]
    ids = {m["id"] for m in httpx.get(reranker_only_server.url + "/v1/models").json()["data"]}
    assert "bge-m3-hybrid" not in ids
    plain = post(reranker_only_server, "/v1/rerank", {"query": QUERY, "documents": DOCS[:2]})
    assert plain.status_code == 200  # the cross-encoder as before
