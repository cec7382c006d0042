"""Xinference's model look-up and auth probe, and OpenAI's model retrieval, which share a path.

Clients (xinference-client's ``Client``, Dify's Xinference plugin, RAGFlow main's model list):
- ``GET /v1/cluster/auth`` — sent with no headers at all; ``{"auth": bool}`` tells the client whether to send
  its key from then on (a 404 would make it send none, ever);
- ``GET /v1/models/{model_uid}`` — ``model_type`` (``embedding`` | ``rerank``) picks the client's handle class;
  Dify's plugin reads ``max_tokens`` and ``context_length``. OpenAI's ``GET /v1/models/{model}`` reads
  ``id``/``object``/``owned_by`` from the same answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from local_server.dialects.shapes import now
from local_server.engine.types import EMBEDDING, HYBRID, RERANKER, ServedModel
from local_server.http.auth import Auth, Core
from local_server.http.middleware import dialect
from local_server.http.responses import FastJSONResponse
from local_server.http.routers import TaskRouter

router = TaskRouter("meta", tags=["Xinference"], dependencies=[dialect("Xinference")])

# Xinference's names for the kinds (the hybrid score answers rerank requests)
MODEL_TYPES = {EMBEDDING: "embedding", RERANKER: "rerank", HYBRID: "rerank"}


def describe(model: ServedModel) -> dict[str, Any]:
    """One model as Xinference describes a running model, with OpenAI's model-object fields."""
    body: dict[str, Any] = {
        "id": model.name, "object": "model", "created": now(), "owned_by": "bge-local",
        "model_type": MODEL_TYPES[model.kind], "model_name": model.name, "model_uid": model.name,
        "model_ability": [], "model_format": "pytorch", "model_lang": ["en", "zh", "multilingual"],
        "max_tokens": model.max_length, "context_length": model.max_length, "replica": 1,
    }
    if model.dimension:
        body["dimensions"] = model.dimension
    return body


@router.get("/v1/cluster/auth", response_class=FastJSONResponse, include_in_schema=False)
async def cluster_auth(request: Request) -> FastJSONResponse:
    """Whether this server wants an API key (no key needed to ask, as in Xinference)."""
    return FastJSONResponse({"auth": bool(request.app.state.settings.api_keys)})


@router.get("/v1/models/{model_uid:path}", response_class=FastJSONResponse, dependencies=[Auth])
@router.get("/models/{model_uid:path}", response_class=FastJSONResponse, include_in_schema=False,
            dependencies=[Auth])
async def describe_model(model_uid: str, core: Core) -> FastJSONResponse:
    return FastJSONResponse(describe(core.model_named(model_uid)))
