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
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response

from local_server import __version__
from local_server.config import Settings
from local_server.console import routes as ui
from local_server.dialects import cohere, ollama, openai, rerank, server_info, tei, tokenize, xinference
from local_server.dialects.truncation import EXPOSED as TRUNCATION_HEADERS
from local_server.engine.core import InferenceCore
from local_server.engine.errors import ModelLoadError
from local_server.http.errors import install_handlers
from local_server.http.middleware import CancelOnDisconnect, RequestFrame
from local_server.http.responses import FastJSONResponse
from local_server.http.routers import TaskRouter, openapi_tags, task_of_routes
from local_server.server import stats
from local_server.server.metrics import Metrics

log = logging.getLogger("bge_local.app")

# Every router the server serves, each tagged with its task: a new dialect adds its routers here.
ROUTERS: tuple[TaskRouter, ...] = (
    openai.router, tei.router, cohere.router, ollama.router, ollama.models_router, rerank.router, tokenize.router,
    xinference.router, server_info.router, stats.router,
)


def create_app(settings: Settings, core: InferenceCore | None = None, *, ready_before_serving: bool = False) -> FastAPI:
    """The server's ASGI app around ``core``. Models load in the background unless ``ready_before_serving``: then
    start-up (the ASGI lifespan) ends only once they are loaded, for hosts that route to a replica as soon as its
    start-up ends (Ray Serve) rather than by its ``/health``."""
    core = core or InferenceCore(settings)
    metrics = Metrics(core)
    recorder = stats.StatsRecorder(metrics.registry, task_of_routes(ROUTERS))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async def load() -> None:
            try:
                await asyncio.to_thread(core.load)
                log.info("ready: serving %s", ", ".join(f"{m.kind} {m.name}" for m in core.served_models()))
            except Exception as exc:
                # Exit non-zero so that systemd, Docker or the operator sees it and restarts or fixes it.
                core.load_error = f"model loading failed: {exc}"
                log.error("model loading failed, exiting: %s", exc, exc_info=not isinstance(exc, ModelLoadError))
                logging.shutdown()
                os._exit(1)

        task = None
        if ready_before_serving and not core.ready:
            await load()
        elif not core.ready:
            task = asyncio.create_task(load())
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
        openapi_tags=openapi_tags(ROUTERS),
        default_response_class=FastJSONResponse,
    )
    app.state.settings = settings
    app.state.core = core
    app.state.metrics = metrics
    app.state.stats = recorder
    app.state.draining = False

    install_handlers(app)

    app.add_middleware(CancelOnDisconnect, on_cancel=lambda scope: metrics.disconnects.inc(),
                       max_strings=8 * (settings.max_client_batch_size + settings.max_rerank_documents) + 1024)
    # Outermost of ours (added last): its body limit must see the body before CancelOnDisconnect buffers it.
    app.add_middleware(RequestFrame, settings=settings, metrics=metrics, app_state=app.state)

    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"],
                           allow_headers=["*"], expose_headers=list(TRUNCATION_HEADERS))

    for router in ROUTERS:
        app.include_router(router)
    if settings.ui_enabled:
        app.include_router(ui.create_router())

    if settings.metrics_enabled:
        @app.get("/metrics", include_in_schema=False)
        async def prometheus() -> Response:
            return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/", include_in_schema=False)
    async def root(request: Request) -> Response:
        if settings.ui_enabled and ui.prefers_html(request.headers.get("accept", "")):
            return ui.redirect("ui/")  # a browser: the console
        return FastJSONResponse({"name": "bge-local", "version": __version__, "docs": "/docs",
                                 "health": "/health", "ready": core.ready,
                                 **({"console": "/ui/"} if settings.ui_enabled else {})})

    return app
