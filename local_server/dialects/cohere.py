"""Cohere's embed API: ``POST /v1/embed`` (v1 shapes) and ``/v2/embed`` (v2), and ``/embed`` with Cohere's body.

Clients: the cohere SDK (``Client`` 5.x posts ``<base>/embed`` up to 5.7 and ``<base>/v1/embed`` from 5.8;
``ClientV2`` ``<base>/v2/embed``), Dify's official Cohere plugin (SDK 5.2.6, base URL ``…/v1``, reads
``embeddings`` and ``meta.billed_units.input_tokens``). ``/embed`` is shared with TEI (``inputs``) and the
seed guide (``texts`` + ``mode``); tei.py tells them apart by the body and hands Cohere's here.

Request: ``texts``, ``model``, ``input_type`` (accepted and ignored: bge-m3 embeds queries and documents
alike), ``embedding_types`` (float, int8, uint8, binary, ubinary, base64), ``truncate`` (``END``: drop the end of
a too-long input, the default; ``START``: drop its start; ``NONE``: refuse it), v2's ``max_tokens`` and
``output_dimension``. Answer: v1 without ``embedding_types`` ``{"response_type": "embeddings_floats",
"embeddings": [[…]]}``, else ``{"response_type": "embeddings_by_type", "embeddings": {type: […]}}``, with ``id``,
``texts`` and ``meta``.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from local_server.dialects.shapes import Dimensions, new_id
from local_server.dialects.truncation import reported
from local_server.engine.core import QUANTIZED_TYPES, InferenceCore, quantize
from local_server.engine.types import EMBEDDING, EmbedNeeds
from local_server.http.auth import Auth, Core
from local_server.http.body import ParsedBodyRoute
from local_server.http.errors import BadRequest
from local_server.http.middleware import dialect
from local_server.http.responses import FastJSONResponse
from local_server.http.routers import TaskRouter

router = TaskRouter("embed", tags=["Cohere"], route_class=ParsedBodyRoute, dependencies=[Auth, dialect("Cohere")])

EMBEDDING_TYPES = ("float", *QUANTIZED_TYPES, "base64")


class CohereEmbedRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    texts: list[str] = Field(description="texts to embed")
    model: str | None = None
    input_type: str | None = Field(default=None, description="accepted; bge-m3 needs no query/document prefix")
    embedding_types: list[str] | None = Field(default=None, description="float, int8, uint8, binary, ubinary, base64")
    truncate: Literal["NONE", "START", "END"] = Field(default="END", description="which end of a too-long input "
                                                                                  "to drop, or NONE to refuse it")
    max_tokens: int | None = Field(default=None, description="v2: tokens per input, at most the model's limit")
    output_dimension: Dimensions = Field(default=None, description="v2: the model's width (shorter: see "
                                                                    "--allow-dimension-truncation)")
    images: list[Any] | None = None

    @field_validator("texts", mode="before")
    @classmethod
    def _one_text(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value  # the seed guide's users send one string too

    @field_validator("truncate", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else ("END" if value is None else value)


def _by_type(vectors: np.ndarray, types: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in types:
        if kind == "float":
            out[kind] = vectors
        elif kind == "base64":
            out[kind] = [base64.b64encode(np.ascontiguousarray(v, dtype="<f4").tobytes()).decode() for v in vectors]
        else:
            out[kind] = quantize(vectors, kind)
    return out


async def embed(body: CohereEmbedRequest, core: InferenceCore, version: Literal[1, 2]) -> FastJSONResponse:
    if body.images:
        raise BadRequest("images cannot be embedded: bge-m3 is a text model", code="unsupported_input")
    types = body.embedding_types if body.embedding_types is not None else (["float"] if version == 2 else None)
    unknown = [t for t in types or () if t not in EMBEDDING_TYPES]
    if unknown:
        raise BadRequest(f"embedding_types {unknown} are not supported; choose from {', '.join(EMBEDDING_TYPES)}")
    model = core.model_for(EMBEDDING, body.model)
    result = await core.embed(model, body.texts, EmbedNeeds(dense=True), truncate=body.truncate != "NONE",
                              max_length=body.max_tokens, dimensions=body.output_dimension,
                              drop="start" if body.truncate == "START" else "end")
    vectors = np.stack([v.dense for v in result.vectors])
    meta = {"api_version": {"version": str(version)}, "billed_units": {"input_tokens": result.total_tokens}}
    answer: dict[str, Any] = {"id": new_id("embed"), "texts": body.texts, "meta": meta}
    if types is None:
        answer.update(response_type="embeddings_floats", embeddings=vectors)
    else:
        answer.update(response_type="embeddings_by_type", embeddings=_by_type(vectors, types))
    return reported(answer, result.truncated)


@router.post("/v1/embed", response_class=FastJSONResponse)
async def embed_v1(body: CohereEmbedRequest, core: Core) -> FastJSONResponse:
    return await embed(body, core, 1)


@router.post("/v2/embed", response_class=FastJSONResponse)
@router.post("/v1/v2/embed", response_class=FastJSONResponse, include_in_schema=False)  # ClientV2 given …/v1
async def embed_v2(body: CohereEmbedRequest, core: Core) -> FastJSONResponse:
    return await embed(body, core, 2)
