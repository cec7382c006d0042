"""Routes about the server rather than one task: health, liveness, TEI's /info, model lists."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from local_server import __version__
from local_server.dialects.shapes import now
from local_server.dialects.xinference import MODEL_TYPES
from local_server.engine.core import InferenceCore
from local_server.engine.types import EMBEDDING, HYBRID, ServedModel
from local_server.http.auth import Auth, Core, has_key
from local_server.http.errors import ModelNotReady
from local_server.http.middleware import tag_dialect
from local_server.http.responses import FastJSONResponse
from local_server.http.routers import TaskRouter

router = TaskRouter("meta", tags=["Server"])


def _describe(model: ServedModel) -> dict[str, Any]:
    return {"name": model.name, "type": model.kind, "aliases": model.names[1:], "path": model.path,
            "devices": model.devices, "dtype": model.dtype, "precision": model.precision,
            "max_input_length": model.max_length, "dimension": model.dimension,
            "queue_depth": model.batcher.queue_depth}


def _hybrid(model: ServedModel, core: InferenceCore) -> dict[str, Any]:
    """The hybrid score a loaded model also serves (it runs on the embedder: no replicas of its own)."""
    return {"name": model.name, "type": HYBRID, "aliases": model.names[1:],
            "weights": core.hybrid_weights().as_dict(), "max_query_length": core.hybrid_query_limit(model),
            "max_passage_length": model.max_length}


def _loaded(core: InferenceCore) -> list[dict[str, Any]]:
    """Each loaded model; the embedder's entry lists the hybrid score under ``also_serves``."""
    hybrid = core.models.of_kind(HYBRID)
    described = []
    for model in core.models.loaded():
        item = _describe(model)
        if hybrid is not None and model.kind == EMBEDDING:
            item["also_serves"] = [_hybrid(hybrid, core)]
        described.append(item)
    if hybrid is not None and not described:  # the hybrid's own per-model URL
        described.append({**_describe(hybrid), **_hybrid(hybrid, core)})
    return described


def health_body(core: InferenceCore) -> dict[str, Any]:
    status = "ok" if core.ready else ("error" if core.load_error else "loading")
    devices = sorted({d for m in core.served_models() for d in m.devices})
    return {"status": status, "ready": core.ready, "version": __version__, "error": core.load_error,
            "device": ", ".join(devices) or None, "models": _loaded(core),
            "gpus": [{"index": g["index"], "name": g["name"], "memory_used_mb": g["used_bytes"] // 2**20,
                      "memory_total_mb": g["total_bytes"] // 2**20} for g in core.gpu_memory()]}


@router.get("/health", response_class=FastJSONResponse)
@router.get("/ready", response_class=FastJSONResponse, include_in_schema=False)
@router.get("/v1/health", response_class=FastJSONResponse, include_in_schema=False)
async def health(core: Core, request: Request) -> FastJSONResponse:
    """Readiness: 200 once every model is loaded, 503 (same body) before and while draining. Without the key
    (on a server that has one) the body says only ready or not; the detail (models, paths, devices, GPU
    memory, a loading error) needs the key."""
    body = health_body(core) if has_key(request) else {
        "status": "ok" if core.ready else ("error" if core.load_error else "loading"), "ready": core.ready}
    if request.app.state.draining:
        body["status"] = "draining"
    ready = core.ready and not request.app.state.draining
    return FastJSONResponse(body, status_code=200 if ready else 503)


@router.get("/live", response_class=FastJSONResponse)
@router.get("/health/live", response_class=FastJSONResponse, include_in_schema=False)
async def live() -> FastJSONResponse:
    """Liveness: the process answers, whether or not the models are loaded yet."""
    return FastJSONResponse({"status": "alive"})


@router.get("/info", response_class=FastJSONResponse, dependencies=[Auth])
@router.get("/v1/info", response_class=FastJSONResponse, include_in_schema=False, dependencies=[Auth])
async def info(core: Core, request: Request) -> FastJSONResponse:
    """TEI's /info. With both models served it describes the embedder and lists both under ``models``; under a
    per-model base URL (``/models/<name>/info``) it describes that model, as a one-model TEI server does."""
    tag_dialect(request, "TEI")
    if not core.ready:
        raise ModelNotReady("models are still loading", headers={"Retry-After": "5"})
    main = core.embedder or core.reranker or core.models.of_kind(HYBRID)  # the hybrid: its per-model URL
    assert main is not None
    model_type = ({"embedding": {"pooling": "cls"}} if main.kind == EMBEDDING
                  else {"reranker": {"id2label": {"0": "LABEL_0"}}})
    s = core.settings
    return FastJSONResponse({
        "model_id": main.name, "model_sha": None, "model_dtype": main.dtype, "model_type": model_type,
        "max_concurrent_requests": s.max_queue_inputs, "max_input_length": main.max_length,
        "max_batch_tokens": s.max_batch_tokens, "max_batch_requests": None,
        "max_client_batch_size": s.max_client_batch_size, "tokenization_workers": 1,
        "version": __version__, "models": _loaded(core),
    })


@router.get("/v1/models", response_class=FastJSONResponse, dependencies=[Auth])
@router.get("/models", response_class=FastJSONResponse, include_in_schema=False, dependencies=[Auth])
async def list_models(core: Core) -> FastJSONResponse:
    created = now()
    weights = {"weights": core.hybrid_weights().as_dict()} if core.models.of_kind(HYBRID) else {}
    data = [{"id": name, "object": "model", "created": created, "owned_by": "bge-local", "type": model.kind,
             "root": model.name, "max_model_len": model.max_length,
             # Xinference's fields, which RAGFlow main's model list reads
             "model_type": MODEL_TYPES[model.kind], "context_length": model.max_length,
             **(weights if model.kind == HYBRID else {})}
            for model in core.served_models() for name in model.names]
    return FastJSONResponse({"object": "list", "data": data})
