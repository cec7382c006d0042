"""Routes, auth, limits, errors and model names, against real server processes."""

from __future__ import annotations

import json

import httpx
import pytest
from support.server import ServerProcess

EMBED = {"input": ["hello"]}
RERANK = {"query": "q", "documents": ["a", "b"]}

# Every model route, with a body it accepts.
MODEL_ROUTES = [
    ("POST", "/v1/embeddings", EMBED), ("POST", "/embeddings", EMBED), ("POST", "/v1/v1/embeddings", EMBED),
    ("POST", "/embed", {"inputs": "x"}), ("POST", "/embed_sparse", {"inputs": "x"}),
    ("POST", "/rerank", RERANK), ("POST", "/v1/rerank", RERANK), ("POST", "/v2/rerank", RERANK),
    ("POST", "/v1/v1/rerank", RERANK), ("POST", "/score", {"text_1": "a", "text_2": "b"}),
    ("POST", "/v1/score", {"text_1": "a", "text_2": "b"}), ("POST", "/tokenize", {"inputs": "x"}),
    ("POST", "/v1/tokenize", {"prompt": "x"}),
    ("GET", "/info", None), ("GET", "/v1/models", None), ("GET", "/models", None),
    ("GET", "/v1/info", None), ("POST", "/detokenize", {"tokens": [0, 2]}), ("POST", "/v1/detokenize", {"tokens": [0]}),
    ("POST", "/v1/embed", {"texts": ["x"]}), ("POST", "/v2/embed", {"texts": ["x"]}),
    ("POST", "/api/embed", {"input": "x"}), ("POST", "/api/embeddings", {"prompt": "x"}), ("GET", "/api/tags", None),
    ("POST", "/api/show", {"model": "bge-m3"}), ("POST", "/api/rerank", RERANK),
    ("GET", "/v1/models/bge-m3", None), ("GET", "/models/bge-m3", None),
    ("GET", "/v1/stats", None), ("GET", "/stats", None), ("GET", "/ui/api/connect", None),
    ("GET", "/metrics", None),  # open only with --public-metrics
    # TEI's root (huggingface_hub, Haystack), also on a per-model base URL; a Cohere v2 client given …/v1
    ("POST", "/", {"inputs": "x"}), ("POST", "/invocations", {"inputs": "x"}),
    ("POST", "/models/BAAI/bge-m3", {"inputs": "x"}),
    ("POST", "/v1/v2/embed", {"texts": ["x"]}), ("POST", "/v1/v2/rerank", RERANK),
]
# Paths above that reach a route of another spelling (the request frame collapses /v1/v1) or a path template.
ROUTE_OF = {"/v1/v1/embeddings": "/v1/embeddings", "/v1/v1/rerank": "/v1/rerank",
            "/v1/models/bge-m3": "/v1/models/{model_uid:path}", "/models/bge-m3": "/models/{model_uid:path}",
            "/models/BAAI/bge-m3": "/models/{name:path}"}


@pytest.fixture(scope="module")
def limited(tiny_models, tmp_path_factory):
    """Low limits, strict model names, an alias, and an empty tiktoken cache."""
    empty = tmp_path_factory.mktemp("no-tiktoken")
    with ServerProcess(tiny_models, "--max-client-batch-size", "8", "--max-rerank-documents", "5",
                       "--max-request-bytes", "200000", "--strict-model-names", "--served-name", "my-embedder",
                       env={"TIKTOKEN_CACHE_DIR": str(empty)}, log_dir=empty) as proc:
        yield proc


@pytest.mark.parametrize(("method", "path", "body"), MODEL_ROUTES, ids=[r[1] for r in MODEL_ROUTES])
def test_every_model_route_answers_with_and_without_trailing_slash(server, method, path, body):
    for p in (path, path + "/"):
        resp = httpx.request(method, server.url + p, json=body, timeout=30)
        assert resp.status_code == 200, (p, resp.text)


@pytest.mark.parametrize(("method", "path", "body"), MODEL_ROUTES, ids=[r[1] for r in MODEL_ROUTES])
def test_with_keys_every_model_route_demands_one(keyed_server, method, path, body):
    url = keyed_server.url + path
    for headers in ({}, {"Authorization": ""}, {"Authorization": "Bearer None"}, {"Authorization": "Bearer wrong"},
                    {"Authorization": "Basic test-key-1"}):
        resp = httpx.request(method, url, json=body, headers=headers)
        assert resp.status_code == 401, (path, headers, resp.text)
        assert resp.json()["error"]["type"] == "authentication_error"
    for key in ("test-key-1", "test-key-2"):
        resp = httpx.request(method, url, json=body, headers={"Authorization": f"Bearer {key}"})
        assert resp.status_code == 200, resp.text


def test_health_needs_no_key_but_its_detail_does(keyed_server):
    resp = httpx.get(keyed_server.url + "/health")
    assert resp.status_code == 200 and resp.json() == {"status": "ok", "ready": True}
    body = httpx.get(keyed_server.url + "/health", headers={"Authorization": "Bearer test-key-2"}).json()
    assert body["ready"] is True and body["device"] == "cpu"
    assert {m["type"] for m in body["models"]} == {"embedding", "reranker"}
    assert "gpus" in body


@pytest.mark.parametrize("header", [None, "", "Bearer ", "Bearer None", "Bearer x", "Bearer empty",
                                    "Bearer lm-studio"])
def test_without_keys_any_authorization_is_accepted(server, header):
    import http.client
    import json

    # http.client, because httpx refuses to send a header value with trailing whitespace ("Bearer ").
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {"Content-Type": "application/json"} | ({} if header is None else {"Authorization": header})
    conn.request("POST", "/v1/embeddings", body=json.dumps(EMBED), headers=headers)
    assert conn.getresponse().status == 200
    conn.close()


def test_unknown_route_and_method_are_json(server):
    resp = httpx.get(server.url + "/v1/chat/completions")
    assert resp.status_code == 404 and "error" in resp.json() and resp.json()["detail"]
    resp = httpx.get(server.url + "/v1/embeddings")
    assert resp.status_code == 405 and resp.json()["error"]["code"] == "method_not_allowed"


def test_models_list_served_names(server, limited):
    ids = {m["id"] for m in httpx.get(server.url + "/v1/models").json()["data"]}
    assert {"bge-m3", "bge-reranker-v2-m3"} <= ids
    ids = {m["id"] for m in httpx.get(limited.url + "/v1/models").json()["data"]}
    assert "my-embedder" in ids


@pytest.mark.parametrize("name", ["bge-m3", "BAAI/bge-m3", "BGE-M3", "bge-m3___OpenAI-API", "bge-m3:latest",
                                  "/workspace/models/BAAI/bge-m3", "my-embedder"])
def test_lenient_names_match_in_strict_mode(limited, name):
    resp = httpx.post(limited.url + "/v1/embeddings", json={"input": "x", "model": name})
    assert resp.status_code == 200, resp.text
    assert resp.json()["model"] == "bge-m3"


def test_strict_mode_refuses_unknown_names_and_lists_served(limited):
    resp = httpx.post(limited.url + "/v1/embeddings", json={"input": "x", "model": "text-embedding-ada-002"})
    assert resp.status_code == 404 and "bge-m3" in resp.json()["error"]["message"]


def test_token_arrays_need_no_tiktoken_cache(limited):
    """The limited server's TIKTOKEN_CACHE_DIR is empty: cl100k_base ships with the server."""
    from_ids = httpx.post(limited.url + "/v1/embeddings", json={"input": [[9906, 1917]]})
    from_text = httpx.post(limited.url + "/v1/embeddings", json={"input": ["Hello world"]})
    assert from_ids.status_code == 200, from_ids.text
    assert from_ids.json()["data"][0]["embedding"] == from_text.json()["data"][0]["embedding"]
    bad = httpx.post(limited.url + "/v1/embeddings", json={"input": [[9906, 100256]]})
    assert bad.status_code == 400 and "100256" in bad.json()["error"]["message"]


def test_token_arrays_are_decoded_with_cl100k(server):
    from_ids = httpx.post(server.url + "/v1/embeddings", json={"input": [[9906, 11, 1917, 0]]}).json()
    from_text = httpx.post(server.url + "/v1/embeddings", json={"input": ["Hello, world!"]}).json()
    assert from_ids["data"][0]["embedding"] == from_text["data"][0]["embedding"]
    one_array = httpx.post(server.url + "/v1/embeddings", json={"input": [9906, 11, 1917, 0]}).json()
    assert one_array["data"][0]["embedding"] == from_text["data"][0]["embedding"]


def test_client_batch_ceiling_is_413_with_the_limit(limited):
    resp = httpx.post(limited.url + "/v1/embeddings", json={"input": ["x"] * 9})
    assert resp.status_code == 413 and "(8)" in resp.json()["error"]["message"]
    assert "--max-client-batch-size" in resp.json()["error"]["message"]
    resp = httpx.post(limited.url + "/rerank", json={"query": "q", "documents": ["d"] * 6})
    assert resp.status_code == 413 and "--max-rerank-documents" in resp.json()["detail"]


def test_body_size_limit(limited):
    resp = httpx.post(limited.url + "/v1/embeddings", json={"input": "x" * 300_000})
    assert resp.status_code == 413 and "--max-request-bytes" in resp.json()["error"]["message"]


def _chunked(body: bytes, size: int = 16_384):
    for start in range(0, len(body), size):
        yield body[start:start + size]


def test_body_size_limit_holds_for_chunked_bodies(limited):
    """No Content-Length to refuse up front: the server stops reading once the limit is passed."""
    big = json.dumps({"input": "x" * 300_000}).encode()
    json_type = {"content-type": "application/json"}
    resp = httpx.post(limited.url + "/v1/embeddings", content=_chunked(big), headers=json_type)
    assert "content-length" not in resp.request.headers and resp.request.headers["transfer-encoding"] == "chunked"
    assert resp.status_code == 413 and "--max-request-bytes" in resp.json()["error"]["message"]
    small = json.dumps({"input": ["chunked", "request"]}).encode()
    resp = httpx.post(limited.url + "/v1/embeddings", content=_chunked(small, 7), headers=json_type)
    assert resp.status_code == 200 and len(resp.json()["data"]) == 2


def test_large_batches_are_split_inside_the_server(server):
    texts = [f"text number {i}" for i in range(300)]  # more than one forward batch
    body = httpx.post(server.url + "/v1/embeddings", json={"input": texts}, timeout=120).json()
    assert [d["index"] for d in body["data"]] == list(range(300))
    single = httpx.post(server.url + "/v1/embeddings", json={"input": texts[123]}).json()
    assert body["data"][123]["embedding"] == pytest.approx(single["data"][0]["embedding"], abs=1e-6)


def test_tei_truncate_false_refuses_long_inputs_clearly(server):
    long_text = "word " * 9000
    resp = httpx.post(server.url + "/embed", json={"inputs": long_text, "truncate": False}, timeout=60)
    assert resp.status_code == 413 and "8192" in resp.json()["error"]["message"]
    resp = httpx.post(server.url + "/rerank", json={"query": "q", "texts": [long_text], "truncate": False},
                      timeout=60)
    assert resp.status_code == 413
    assert httpx.post(server.url + "/embed", json={"inputs": long_text}, timeout=60).status_code == 200


@pytest.mark.parametrize(("top_n", "expected"), [(None, 3), (0, 3), (1, 1), (2, 2), (3, 3), (50, 3), ("2", 2)])
def test_top_n_null_zero_and_clamped(server, top_n, expected):
    resp = httpx.post(server.url + "/v1/rerank", json={"query": "q", "documents": ["a", "b", "c"], "top_n": top_n})
    assert resp.status_code == 200 and len(resp.json()["results"]) == expected


def test_tokenize_count_matches_usage(server):
    vllm = httpx.post(server.url + "/tokenize", json={"prompt": "hello world"}).json()
    assert vllm["count"] == len(vllm["tokens"]) > 2
    usage = httpx.post(server.url + "/v1/embeddings", json={"input": "hello world"}).json()["usage"]
    assert usage["prompt_tokens"] == vllm["count"]


def test_docs_and_openapi(server):
    assert httpx.get(server.url + "/docs").status_code == 200
    paths = httpx.get(server.url + "/openapi.json").json()["paths"]
    assert {"/v1/embeddings", "/v1/rerank", "/embed", "/score", "/health"} <= set(paths)


def test_request_id_header(server):
    resp = httpx.get(server.url + "/health", headers={"X-Request-Id": "abc123"})
    assert resp.headers["x-request-id"] == "abc123"
    assert len(httpx.get(server.url + "/health").headers["x-request-id"]) == 32


def test_one_model_servers(embedder_only_server, reranker_only_server):
    resp = httpx.post(embedder_only_server.url + "/rerank", json=RERANK)
    assert resp.status_code == 404
    assert "runs no reranker" in resp.json()["error"]["message"]
    assert httpx.post(embedder_only_server.url + "/v1/embeddings", json=EMBED).status_code == 200
    info = httpx.get(reranker_only_server.url + "/info").json()
    assert "reranker" in info["model_type"]
    assert httpx.post(reranker_only_server.url + "/v1/embeddings", json=EMBED).status_code == 404
    assert httpx.post(reranker_only_server.url + "/rerank", json=RERANK).status_code == 200


# Routes that answer without a key: probes, docs, the landing page and the console's static files.
OPEN_ROUTES = {"/", "/health", "/ready", "/v1/health", "/live", "/health/live", "/docs",
               "/docs/oauth2-redirect", "/openapi.json", "/ui", "/ui/{name:path}",
               "/v1/cluster/auth"}  # Xinference's client asks it without a key whether to send one


def test_the_auth_walk_covers_every_route_the_app_has():
    """A new route can't slip past the auth walk above: every route is either walked or deliberately open."""
    from local_server.config import Settings
    from local_server.server.app import create_app

    app = create_app(Settings(api_keys=["k"]))
    paths = set()
    for route in app.routes:  # FastAPI keeps included routers as a wrapper around the original router
        inner = getattr(route, "original_router", None)
        paths |= {r.path for r in inner.routes} if inner is not None else {route.path}
    walked = {ROUTE_OF.get(path, path) for _, path, _ in MODEL_ROUTES}
    assert paths - OPEN_ROUTES == walked - {"/"}  # "/": the landing page's GET is open, TEI's POST root is not


def test_the_frame_checks_the_key_on_exactly_the_routes_that_need_it():
    """The request frame refuses a bad key from the headers alone, before the body: its list of open paths must
    be the routes above, no more (a keyed route served without the key) and no less."""
    from local_server.config import Settings
    from local_server.http.auth import is_open
    from local_server.server.app import create_app

    app = create_app(Settings(api_keys=["k"]))
    for route in app.routes:
        inner = getattr(route, "original_router", None)
        for path in {r.path for r in inner.routes} if inner is not None else {route.path}:
            example = path.replace("{name:path}", "app.js").replace("{model_uid:path}", "bge-m3")
            assert is_open(example) == (path in OPEN_ROUTES), path
    assert is_open("/metrics", public_metrics=True) and not is_open("/models/x/health")
    assert not is_open("/", method="POST")  # TEI's root is a model route
