"""Routes about the server rather than one task: health, TEI's /info, model lists, tokenization."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from local_server import __version__
from local_server.dialects.common import Auth, Core, FastJSONResponse, as_text_list, now, tag_dialect
from local_server.engine.core import EMBEDDING, InferenceCore, ServedModel
from local_server.errors import BadRequest, ModelNotReady

router = APIRouter(tags=["Server"])


def gpu_memory() -> list[dict[str, Any]]:
    """Per-GPU memory as the driver reports it (every process, not just this one)."""
    try:
        import torch

        if not torch.cuda.is_available():
            return []
        gpus = []
        for i in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(i)
            gpus.append({"index": i, "name": torch.cuda.get_device_name(i),
                         "memory_used_mb": (total - free) // 2**20, "memory_total_mb": total // 2**20})
        return gpus
    except Exception:  # a broken driver must not break /health
        return []


def _describe(model: ServedModel) -> dict[str, Any]:
    return {"name": model.name, "type": model.kind, "aliases": model.names[1:], "path": model.path,
            "devices": model.devices, "dtype": model.dtype, "max_input_length": model.max_length,
            "dimension": model.dimension, "queue_depth": model.batcher.queue_depth}


def health_body(core: InferenceCore) -> dict[str, Any]:
    status = "ok" if core.ready else ("error" if core.load_error else "loading")
    devices = sorted({d for m in core.served_models() for d in m.devices})
    return {"status": status, "ready": core.ready, "version": __version__, "error": core.load_error,
            "device": ", ".join(devices) or None, "models": [_describe(m) for m in core.served_models()],
            "gpus": gpu_memory()}


@router.get("/health", response_class=FastJSONResponse)
@router.get("/ready", response_class=FastJSONResponse, include_in_schema=False)
@router.get("/v1/health", response_class=FastJSONResponse, include_in_schema=False)
async def health(core: Core, request: Request) -> FastJSONResponse:
    """Readiness: 200 once every model is loaded, 503 (same body) before and while draining."""
    body = health_body(core)
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
async def info(core: Core, request: Request) -> FastJSONResponse:
    tag_dialect(request, "TEI")
    """TEI's /info. With both models served it describes the embedder and lists both under ``models``."""
    if not core.ready:
        raise ModelNotReady("models are still loading", headers={"Retry-After": "5"})
    main = core.embedder or core.reranker
    assert main is not None
    model_type = ({"embedding": {"pooling": "cls"}} if main.kind == EMBEDDING
                  else {"reranker": {"id2label": {"0": "LABEL_0"}}})
    s = core.settings
    return FastJSONResponse({
        "model_id": main.name, "model_sha": None, "model_dtype": main.dtype, "model_type": model_type,
        "max_concurrent_requests": s.max_queue_inputs, "max_input_length": main.max_length,
        "max_batch_tokens": s.max_batch_tokens, "max_batch_requests": None,
        "max_client_batch_size": s.max_client_batch_size, "tokenization_workers": 1,
        "version": __version__, "models": [_describe(m) for m in core.served_models()],
    })


@router.get("/v1/models", response_class=FastJSONResponse, dependencies=[Auth])
@router.get("/models", response_class=FastJSONResponse, include_in_schema=False, dependencies=[Auth])
async def list_models(core: Core) -> FastJSONResponse:
    data = []
    created = now()
    for model in core.served_models():
        for name in model.names:
            data.append({"id": name, "object": "model", "created": created, "owned_by": "bge-local",
                         "type": model.kind, "root": model.name, "max_model_len": model.max_length})
    return FastJSONResponse({"object": "list", "data": data})


class TokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    inputs: str | list[str] | None = Field(default=None, description="TEI: answer is a bare list of token lists")
    prompt: str | list[str] | None = Field(default=None, description="vLLM: answer is {tokens, count}")
    text: str | list[str] | None = None
    input: str | list[str] | None = None
    add_special_tokens: bool = True
    model: str | None = None


@router.post("/tokenize", response_class=FastJSONResponse, dependencies=[Auth])
@router.post("/v1/tokenize", response_class=FastJSONResponse, include_in_schema=False, dependencies=[Auth])
async def tokenize(body: TokenizeRequest, core: Core, request: Request) -> FastJSONResponse:
    tag_dialect(request, "TEI" if body.inputs is not None else "vLLM")
    kind = EMBEDDING if core.embedder is not None else "reranker"
    model = core.model_for(kind, None)
    if body.inputs is not None:  # TEI shape, with offsets
        texts = as_text_list(body.inputs, "inputs")
        encoded = await core.tokenize(model, texts, special=body.add_special_tokens, offsets=True)
        special = set(model.tokenizer.all_special_ids)
        answer = []
        for text, ids, offsets in zip(texts, encoded["input_ids"], encoded["offset_mapping"], strict=True):
            answer.append([{"id": i, "text": model.tokenizer.convert_ids_to_tokens(i) if i in special
                            else text[start:stop], "special": i in special, "start": start, "stop": stop}
                           for i, (start, stop) in zip(ids, offsets, strict=True)])
        return FastJSONResponse(answer)
    value = next((v for v in (body.prompt, body.text, body.input) if v is not None), None)
    if value is None:
        raise BadRequest("missing text: send 'inputs' (TEI), 'prompt' (vLLM) or 'text'")
    texts = as_text_list(value, "prompt")
    ids = (await core.tokenize(model, texts, special=body.add_special_tokens))["input_ids"]
    if isinstance(value, str):
        return FastJSONResponse({"tokens": ids[0], "count": len(ids[0]), "max_model_len": model.max_length})
    return FastJSONResponse({"tokens": ids, "count": [len(x) for x in ids], "max_model_len": model.max_length})
