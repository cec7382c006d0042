"""The real app and middleware in this process, over httpx's ASGI transport, with no model loaded and no server
process: what doesn't need a model is tested here (loading state, exposure flags, the auth walk's route list)."""

from __future__ import annotations

import logging

import httpx
import pytest

from local_server.config import Settings
from local_server.server.app import create_app
from local_server.server.process import warn_if_exposed

pytestmark = pytest.mark.anyio  # anyio's pytest plugin runs the async tests (anyio comes with httpx)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def client(**settings: object) -> httpx.AsyncClient:
    # The lifespan (which loads the models) is not run: the app stays in its "loading" state.
    app = create_app(Settings(**settings))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app")


async def test_while_loading_health_is_503_model_routes_are_json_503_and_live_is_200():
    async with client() as c:
        health = await c.get("/health")
        assert health.status_code == 503 and health.json()["status"] == "loading"
        for path, body in (("/v1/embeddings", {"input": "x"}), ("/rerank", {"query": "q", "documents": ["d"]})):
            resp = await c.post(path, json=body)
            assert resp.status_code == 503, resp.text
            assert resp.json()["error"]["code"] == "model_not_ready" and resp.headers["retry-after"] == "5"
        assert (await c.get("/live")).status_code == 200


async def test_docs_and_metrics_are_on_and_cors_off_by_default():
    async with client() as c:
        assert (await c.get("/docs")).status_code == 200
        assert (await c.get("/openapi.json")).status_code == 200
        metrics = await c.get("/metrics")
        assert metrics.status_code == 200 and "bge_local_ready 0.0" in metrics.text
        preflight = {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
        resp = await c.options("/v1/embeddings", headers=preflight)
        assert "access-control-allow-origin" not in resp.headers


async def test_docs_and_metrics_can_be_closed_and_cors_opened_for_one_origin():
    async with client(docs_enabled=False, metrics_enabled=False, cors_origins=["http://app.example"]) as c:
        for path in ("/docs", "/openapi.json", "/metrics"):
            resp = await c.get(path)
            assert resp.status_code == 404 and resp.json()["error"]["code"] == "route_not_found"
        preflight = {"Origin": "http://app.example", "Access-Control-Request-Method": "POST"}
        resp = await c.options("/v1/embeddings", headers=preflight)
        assert resp.headers["access-control-allow-origin"] == "http://app.example"
        other = await c.options("/v1/embeddings", headers={**preflight, "Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize(("host", "key", "warns"), [
    ("0.0.0.0", False, True), ("::", False, True), ("192.168.1.20", False, True),
    ("0.0.0.0", True, False), ("127.0.0.1", False, False), ("localhost", False, False), ("::1", False, False),
])
def test_a_public_interface_without_a_key_warns_loudly(caplog, host, key, warns):
    with caplog.at_level(logging.WARNING, logger="bge_local"):
        warn_if_exposed(host, key)
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert ("SECURITY" in logged and "without an API key" in logged) is warns


async def test_every_api_route_comes_from_a_router_that_names_its_task():
    """The console's charts and the OpenAPI tags read the routers; no route may escape them (as Cohere's
    /v1/embed, /v2/embed and Ollama's /api/embed once escaped a hand-kept list)."""
    from fastapi.routing import APIRoute

    from local_server.http.routers import task_of_routes
    from local_server.server.app import ROUTERS

    def paths(routes: list) -> set[str]:  # FastAPI includes a router as one entry that holds it
        return {p for r in routes for p in ([r.path] if isinstance(r, APIRoute)
                                            else paths(getattr(r, "original_router", r).routes)
                                            if hasattr(r, "original_router") else [])}

    app = create_app(Settings())
    tasks = task_of_routes(ROUTERS)
    outside = {"/", "/metrics", "/ui", "/ui/api/connect", "/ui/{name:path}"}  # the app's own and the console's
    # "/" is both the app's GET (the console's redirect) and TEI's POST root, a task route labelled "POST /"
    assert paths(app.routes) - outside == set(tasks) - {"POST /"} and tasks["POST /"] == "embed" and "/" not in tasks
    embed = {path for path, task in tasks.items() if task == "embed"}
    assert {"/v1/embeddings", "/embed", "/v1/embed", "/v2/embed", "/api/embed", "/api/embeddings"} <= embed
    assert {"/rerank", "/v1/rerank", "/v2/rerank", "/api/rerank", "/score"} <= {p for p, t in tasks.items()
                                                                                if t == "rerank"}
    async with client() as c:
        tags = {tag["name"] for tag in (await c.get("/openapi.json")).json()["tags"]}
    assert tags == {router.dialect for router in ROUTERS}
