"""OpenAI embeddings (``/v1/embeddings``), with bge-m3's sparse and ColBERT outputs as opt-in extensions.

Clients: openai-python (base64 by default), LangChain (token-id arrays), LlamaIndex, Dify's
OpenAI-API-compatible provider, RAGFlow's OpenAI-API-Compatible / VLLM / LocalAI / Xinference / GPUStack.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from local_server.dialects.shapes import Dimensions
from local_server.dialects.vector_forms import (
    COLBERT_FORMAT_HELP,
    SPARSE_FORMAT_HELP,
    ColbertFormat,
    SparseFormat,
    colbert_fields,
    sparse_form,
)
from local_server.engine.token_ids import decode_token_arrays
from local_server.engine.types import EMBEDDING, EmbedNeeds
from local_server.http.auth import Auth, Core
from local_server.http.body import ParsedBodyRoute
from local_server.http.middleware import tag_dialect
from local_server.http.responses import FastJSONResponse, encode_vector
from local_server.http.routers import TaskRouter

router = TaskRouter("embed", tags=["OpenAI"], route_class=ParsedBodyRoute, dependencies=[Auth])


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # drop_params, user and the like are ignored

    input: str | list[str] | list[int] | list[list[int]] = Field(
        description="text, list of texts, or cl100k_base token ids (one array or a list of arrays)")
    model: str | None = None
    encoding_format: Literal["float", "base64"] | None = Field(
        default=None, description="float (default) or base64 of little-endian float32")
    dimensions: Dimensions = Field(default=None, description="the model's width (1024 for bge-m3); 0 means unset")
    user: str | None = None
    return_dense: bool = Field(default=True, description="bge-local: include the dense vector")
    return_sparse: bool = Field(default=False, description="bge-local: include sparse lexical weights")
    return_sparse_tokens: bool = Field(default=False, description="bge-local: sparse weights also by token string")
    return_colbert_vecs: bool = Field(default=False, description="bge-local: include ColBERT multi-vectors")
    truncate: bool = Field(default=True, description="bge-local: truncate inputs longer than the model's limit")
    colbert_format: ColbertFormat | None = Field(default=None, description="bge-local: " + COLBERT_FORMAT_HELP)
    sparse_format: SparseFormat | None = Field(default=None, description="bge-local: " + SPARSE_FORMAT_HELP)


def _is_text(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and (not value or isinstance(value[0], str)))


def _texts(body: EmbeddingRequest) -> list[str]:
    value = body.input
    if isinstance(value, str):
        return [value]
    if all(isinstance(v, str) for v in value):  # an empty list too: the core refuses it, as for every route
        return list(value)  # type: ignore[arg-type]
    if all(isinstance(v, int) for v in value):
        return decode_token_arrays([value])  # type: ignore[list-item]
    return decode_token_arrays(value)  # type: ignore[arg-type]


@router.post("/v1/embeddings", response_class=FastJSONResponse)
@router.post("/embeddings", response_class=FastJSONResponse, include_in_schema=False)
async def create_embeddings(body: EmbeddingRequest, core: Core, request: Request) -> FastJSONResponse:
    tag_dialect(request, "OpenAI")
    model = core.model_for(EMBEDDING, body.model)
    needs = EmbedNeeds(dense=body.return_dense, sparse=body.return_sparse or body.return_sparse_tokens,
                       colbert=body.return_colbert_vecs)
    texts = _texts(body) if _is_text(body.input) else await asyncio.to_thread(_texts, body)  # ids: decode off-loop
    sparse_format, colbert_format = body.sparse_format or "indices", body.colbert_format or "float"
    result = await core.embed(model, texts, needs, truncate=body.truncate, dimensions=body.dimensions,
                              sparse_tokens=body.return_sparse_tokens or sparse_format == "token_map")
    data = []
    for i, vec in enumerate(result.vectors):
        item: dict = {"object": "embedding", "index": i}
        if vec.dense is not None:
            item["embedding"] = encode_vector(vec.dense, body.encoding_format)
        if vec.sparse is not None:
            tokens = result.sparse_tokens[i] if result.sparse_tokens is not None else None
            sparse = sparse_form(vec, tokens, sparse_format)
            if body.return_sparse_tokens and sparse_format == "indices":
                sparse["tokens"] = tokens
            item["sparse_embedding"] = sparse
        if vec.colbert is not None:
            colbert = colbert_fields(vec.colbert, colbert_format, body.encoding_format)
            item["colbert_embedding"] = colbert["embedding"]
            if "shape" in colbert:
                item["colbert_shape"] = colbert["shape"]
            if "scales" in colbert:
                item["colbert_scales"] = colbert["scales"]
        data.append(item)
    usage = {"prompt_tokens": result.total_tokens, "total_tokens": result.total_tokens}
    return FastJSONResponse({"object": "list", "model": model.name, "data": data, "usage": usage})
