"""The application factory: settings and an inference core in, a FastAPI app out.

Models load in a background thread at start-up, so ``/health`` answers 503 (and model routes a JSON
503) until they are ready — never a model loaded on a first request. Every error, including unknown
routes, methods and malformed bodies, is rendered by the same JSON error family.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from local_server import __version__
from local_server.dialects import meta, openai, rerank, tei
from local_server.dialects.common import FastJSONResponse
from local_server.engine.core import InferenceCore, ModelLoadError
from local_server.errors import ApiError, error_body
from local_server.lifecycle import CancelOnDisconnect
from local_server.metrics import Metrics
from local_server.request_frame import RequestFrame
from local_server.server import stats, ui
from local_server.settings import Settings

log = logging.getLogger("bge_local.app")

_STATUS_TYPES = {404: ("not_found_error", "route_not_found"), 405: ("invalid_request_error", "method_not_allowed")}


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        if err.get("type") == "json_invalid":
            return "the request body is not valid JSON (send Content-Type: application/json and a JSON object)"
        if err.get("type") == "missing" and where == "body":
            return "the request body is empty: send a JSON object (with Content-Type: application/json)"
        if err.get("type") in {"model_attributes_type", "dict_type"} and where == "body":
            return "the request body must be a JSON object (with Content-Type: application/json)"
        parts.append(f"{where}: {err.get('msg')}")
    return "invalid request: " + "; ".join(parts[:5])


def create_app(settings: Settings, core: InferenceCore | None = None) -> FastAPI:
    core = core or InferenceCore(settings)
    metrics = Metrics()
    recorder = stats.StatsRecorder(metrics.registry, stats.task_of_routes(
        [*openai.router.routes, *tei.router.routes], rerank.router.routes))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async def load() -> None:
            try:
                await asyncio.to_thread(core.load)
                for model in core.served_models():
                    model.batcher.on_batch = metrics.batch_observer(model.kind)
                log.info("ready: serving %s", ", ".join(f"{m.kind} {m.name}" for m in core.served_models()))
            except Exception as exc:
                # Exit non-zero so that systemd, Docker or the operator sees it and restarts or fixes it.
                core.load_error = f"model loading failed: {exc}"
                log.error("model loading failed, exiting: %s", exc, exc_info=not isinstance(exc, ModelLoadError))
                logging.shutdown()
                os._exit(1)

        task = asyncio.create_task(load()) if not core.ready else None
        recorder.start()
        yield
        await recorder.stop()
        if task is not None:
            task.cancel()
        core.close()

    app = FastAPI(
        title="bge-local",
        version=__version__,
        description="BAAI/bge-m3 (dense, sparse, ColBERT) and BAAI/bge-reranker-v2-m3 behind the APIs of "
                    "OpenAI, TEI, Jina/Cohere and vLLM.",
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
        default_response_class=FastJSONResponse,
    )
    app.state.settings = settings
    app.state.core = core
    app.state.metrics = metrics
    app.state.stats = recorder
    app.state.draining = False

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return FastJSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return FastJSONResponse(error_body(_validation_message(exc), "invalid_request_error", "invalid_request"),
                                status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        type_, code = _STATUS_TYPES.get(exc.status_code, ("invalid_request_error", str(exc.status_code)))
        message = str(exc.detail)
        if exc.status_code == 400 and "parsing the body" in message:  # e.g. bytes that are not UTF-8
            message = "the request body is not valid JSON: it must be a UTF-8 encoded JSON object"
        if exc.status_code == 404:
            message = f"no route {request.method} {request.url.path}; see /docs for the routes this server answers"
        return FastJSONResponse(error_body(message, type_, code), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        return FastJSONResponse(error_body(f"internal error: {type(exc).__name__}", "server_error", "internal_error"),
                                status_code=500)

    app.add_middleware(CancelOnDisconnect, on_cancel=lambda scope: metrics.disconnects.inc())
    # Outermost of ours (added last): its body limit must see the body before CancelOnDisconnect buffers it.
    app.add_middleware(RequestFrame, settings=settings, metrics=metrics, app_state=app.state)

    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"],
                           allow_headers=["*"])

    for module in (openai, tei, rerank, meta, stats):
        app.include_router(module.router)
    if settings.ui_enabled:
        app.include_router(ui.create_router())

    if settings.metrics_enabled:
        @app.get("/metrics", include_in_schema=False)
        async def prometheus() -> Response:
            return Response(metrics.render(core), media_type="text/plain; version=0.0.4")

    @app.get("/", include_in_schema=False)
    async def root(request: Request) -> Response:
        if settings.ui_enabled and ui.prefers_html(request.headers.get("accept", "")):
            return ui.redirect("ui/")
        return FastJSONResponse({"name": "bge-local", "version": __version__, "docs": "/docs",
                                 "health": "/health", "ready": core.ready})

    return app
