"""Ollama's embedding API, so that Ollama providers pointed at bge-local work unchanged.

Clients: the ``ollama`` Python client (RAGFlow's Ollama provider: ``embeddings`` → ``/api/embeddings`` up to
0.25, ``embed`` → ``/api/embed`` from 0.26; its model list on main: ``/api/tags`` then ``/api/show``), Dify's
official Ollama plugin (``/api/embed`` with requests; rerank at ``/api/rerank``, served by rerank.py).

- ``POST /api/embed {"model", "input": str | [str], "truncate", "options", "keep_alive", "dimensions"}`` →
  ``{"model", "embeddings", "total_duration", "load_duration", "prompt_eval_count"}``;
- ``POST /api/embeddings {"model", "prompt"}`` → ``{"embedding"}``;
- ``GET /api/tags`` → ``{"models": [{"name", "model", "details"}]}``;
- ``POST /api/show {"model"}`` → ``{"details", "model_info", "capabilities"}``.
``options`` and ``keep_alive`` are accepted and ignored: models stay loaded, and the server's settings rule.
There is no ``/api/version``: none of these clients asks for it, and answering an Ollama version would be made up.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from local_server.dialects.shapes import Dimensions, as_text_list
from local_server.dialects.truncation import reported
from local_server.engine.types import EMBEDDING, EmbedNeeds, ServedModel
from local_server.http.auth import Auth, Core
from local_server.http.body import ParsedBodyRoute
from local_server.http.errors import BadRequest
from local_server.http.middleware import dialect
from local_server.http.responses import FastJSONResponse
from local_server.http.routers import TaskRouter

router = TaskRouter("embed", tags=["Ollama"], route_class=ParsedBodyRoute, dependencies=[Auth, dialect("Ollama")])
# /api/tags, /api/show
models_router = TaskRouter("meta", tags=["Ollama"], route_class=ParsedBodyRoute, dependencies=[Auth, dialect("Ollama")])

FAMILY = "xlm-roberta"  # bge-m3 and bge-reranker-v2-m3 are both XLM-RoBERTa models


class EmbedRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # options, keep_alive

    model: str | None = None
    input: str | list[str] = Field(description="text or texts")
    truncate: bool = Field(default=True, description="false: refuse inputs over the model's limit")
    dimensions: Dimensions = Field(default=None, description="the model's width (shorter: see "
                                                              "--allow-dimension-truncation)")


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str | None = None
    prompt: str = Field(default="", description="one text")


class ShowRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str | None = None
    name: str | None = Field(default=None, description="older clients' spelling of model")


# Ollama's names for what runs (its own are F32, F16, BF16, Q8_0...; int8 here is dynamic quantization)
_OLLAMA_LEVELS = {"fp32": "F32", "fp16": "F16", "bf16": "BF16", "int8": "INT8"}


def _details(model: ServedModel) -> dict[str, Any]:
    return {"format": "safetensors", "family": FAMILY, "families": [FAMILY], "parameter_size": "",
            "quantization_level": _OLLAMA_LEVELS.get(model.precision, model.precision.upper())}


@router.post("/api/embed", response_class=FastJSONResponse)
async def embed(body: EmbedRequest, core: Core) -> FastJSONResponse:
    started = time.perf_counter_ns()
    model = core.model_for(EMBEDDING, body.model)
    result = await core.embed(model, as_text_list(body.input, "input"), EmbedNeeds(dense=True),
                              truncate=body.truncate, dimensions=body.dimensions)
    return reported({
        "model": model.name, "embeddings": [v.dense for v in result.vectors],
        "total_duration": time.perf_counter_ns() - started, "load_duration": 0,
        "prompt_eval_count": result.total_tokens,
    }, result.truncated)


@router.post("/api/embeddings", response_class=FastJSONResponse)
async def embeddings(body: EmbeddingsRequest, core: Core) -> FastJSONResponse:
    model = core.model_for(EMBEDDING, body.model)
    result = await core.embed(model, [body.prompt], EmbedNeeds(dense=True))
    return reported({"embedding": result.vectors[0].dense}, result.truncated)


@models_router.get("/api/tags", response_class=FastJSONResponse)
async def tags(core: Core) -> FastJSONResponse:
    models = [{"name": m.name, "model": m.name, "details": _details(m)} for m in core.served_models()]
    return FastJSONResponse({"models": models})


@models_router.post("/api/show", response_class=FastJSONResponse)
async def show(body: ShowRequest, core: Core) -> FastJSONResponse:
    requested = body.model or body.name
    if not requested:
        raise BadRequest("missing 'model'")
    model = core.model_named(requested)
    info: dict[str, Any] = {"general.architecture": FAMILY, "general.context_length": model.max_length,
                            f"{FAMILY}.context_length": model.max_length}
    if model.dimension:
        info[f"{FAMILY}.embedding_length"] = model.dimension
    return FastJSONResponse({
        "license": "MIT", "modelfile": "", "parameters": "", "template": "", "details": _details(model),
        "model_info": info, "capabilities": ["embedding"] if model.kind == EMBEDDING else ["rerank"],
    })
