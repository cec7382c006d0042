"""Per-model base URLs (``/models/<name>/…``) and doubled slashes, against the two-model server.

A one-model-per-URL client (TEI's /info, an Ollama or Xinference client told one model) pasted at
``http://host:8000/models/bge-reranker-v2-m3`` must see a server that is that model only.
"""

from __future__ import annotations

import httpx
import pytest

EMBEDDER, RERANKER = "bge-m3", "bge-reranker-v2-m3"
DOCS = ["Paris is the capital of France.", "Horses are animals."]


def get(server, path: str, **kwargs) -> httpx.Response:
    return httpx.get(server.url + path, headers=server.headers(), timeout=30, **kwargs)


def post(server, path: str, body: dict) -> httpx.Response:
    return httpx.post(server.url + path, json=body, headers=server.headers(), timeout=30)


@pytest.mark.parametrize(("name", "kind"), [(EMBEDDER, "embedding"), (RERANKER, "reranker")])
def test_info_and_model_list_under_a_prefix_describe_that_model_only(server, name, kind):
    for prefix in (f"/models/{name}", f"/models/{name}/v1"):
        info = get(server, prefix + "/info").json()
        assert list(info["model_type"]) == [kind] and info["model_id"] == name
        assert [m["name"] for m in info["models"]] == [name]
    listed = get(server, f"/models/{name}/v1/models").json()
    assert {m["root"] for m in listed["data"]} == {name}


def test_routes_under_a_prefix_serve_that_model(server):
    emb = post(server, f"/models/{EMBEDDER}/v1/embeddings", {"input": ["hello"]}).json()
    direct = post(server, "/v1/embeddings", {"input": ["hello"]}).json()
    assert emb["model"] == EMBEDDER and emb["data"][0]["embedding"] == direct["data"][0]["embedding"]
    tei = post(server, f"/models/{RERANKER}/rerank", {"query": "capital", "texts": DOCS}).json()
    assert sorted(r["index"] for r in tei) == [0, 1]
    assert post(server, f"/models/{EMBEDDER}/embed", {"inputs": "hello"}).json()[0] == emb["data"][0]["embedding"]
    tokens = post(server, f"/models/{RERANKER}/tokenize", {"inputs": ["hello"]}).json()
    assert isinstance(tokens[0][0]["id"], int)


def test_the_other_kind_under_a_prefix_is_a_404_that_says_where_it_is(server):
    resp = post(server, f"/models/{EMBEDDER}/rerank", {"query": "q", "documents": DOCS})
    assert resp.status_code == 404
    message = resp.json()["error"]["message"]
    assert EMBEDDER in message and f"/models/{RERANKER}" in message
    resp = post(server, f"/models/{RERANKER}/v1/embeddings", {"input": "x"})
    assert resp.status_code == 404 and f"/models/{EMBEDDER}" in resp.json()["error"]["message"]


def test_a_body_naming_the_other_model_is_still_served_by_the_urls_model(server):
    """Lenient by default, as everywhere: the URL names the model."""
    resp = post(server, f"/models/{EMBEDDER}/v1/embeddings", {"input": "x", "model": "text-embedding-3-small"})
    assert resp.status_code == 200 and resp.json()["model"] == EMBEDDER


@pytest.mark.parametrize("spelled", ["BGE-M3", "BAAI/bge-m3", "bge-m3:latest", "bge-m3___OpenAI-API"])
def test_prefix_names_match_leniently(server, spelled):
    info = get(server, f"/models/{spelled}/info")
    assert info.status_code == 200 and info.json()["model_id"] == EMBEDDER


def test_an_unknown_prefix_is_a_404_listing_the_model_urls(server):
    resp = get(server, "/models/e5-large/info")
    assert resp.status_code == 404
    message = resp.json()["error"]["message"]
    assert f"/models/{EMBEDDER}" in message and f"/models/{RERANKER}" in message


def test_the_plain_model_list_and_a_bare_model_url_still_answer(server):
    assert {m["id"] for m in get(server, "/models").json()["data"]} >= {EMBEDDER, RERANKER}
    one = get(server, f"/models/{EMBEDDER}").json()
    assert one["id"] == EMBEDDER and one["object"] == "model"


def test_prefixed_routes_demand_the_key_when_the_server_has_one(keyed_server):
    url = f"{keyed_server.url}/models/{EMBEDDER}/info"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer test-key-2"}).status_code == 200


@pytest.mark.parametrize("path", ["//embed", "/v1//embeddings", "//v1/embeddings", "/v1/embeddings//",
                                  f"/models/{EMBEDDER}//embed", f"//models/{EMBEDDER}/v1//embeddings"])
def test_doubled_slashes_reach_their_route(server, path):
    body = {"inputs": "hello"} if path.endswith("embed") else {"input": "hello"}
    resp = httpx.post(server.url + path, json=body, timeout=30)
    assert resp.status_code == 200, (path, resp.text)


def test_a_doubled_v1_prefix_reaches_every_route(server):
    """Clients that append /v1 to a pasted …/v1 (cohere ≥ 5.8, Xinference with …/v1): /v1/v1/x is /v1/x."""
    assert post(server, "/v1/v1/embed", {"texts": ["hello"], "input_type": "search_query"}).status_code == 200
    assert get(server, f"/v1/v1/models/{EMBEDDER}").json()["model_type"] == "embedding"
    assert post(server, "/v1/v1/tokenize", {"text": "hello", "model": EMBEDDER}).status_code == 200
