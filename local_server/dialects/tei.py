"""TEI's embedding routes and the seed guide's ``/embed``, which share a path and differ by body shape.

- TEI (RAGFlow "HuggingFace", Dify "Text Embedding Inference"): ``POST /embed {"inputs"}`` answers a bare
  ``[[floats]]``; ``POST /embed_sparse`` answers ``[[{"index", "value"}]]``.
- The seed guide's FastAPI service (RAGFlow "Custom"): ``POST /embed {"texts", "mode", "max_length"}``
  answers ``{"embeddings": ...}`` with dense vectors, sparse ``{token: weight}`` maps or ColBERT matrices.
- Cohere (SDK ≤ 5.7 with a base URL without /v1): ``POST /embed {"texts", "input_type", …}``, see cohere.py.
- TEI's root: ``POST /`` and ``POST /invocations`` (SageMaker) run the one model a TEI server holds — ``/embed``
  for an embedding model, ``/rerank`` for a reranker (huggingface_hub's ``InferenceClient(base_url)``, Haystack's
  ``HuggingFaceAPI*`` with a TEI URL). Under a per-model base URL (``/models/<name>/``, the URL itself too) that
  model decides (a body of the other task gets the 404 naming the other model's URL); on the combined server the
  body does: ``query`` → rerank, otherwise embed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Body, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from local_server.dialects import cohere, rerank
from local_server.dialects.shapes import as_text_list
from local_server.dialects.vector_forms import (
    COLBERT_FORMAT_HELP,
    SPARSE_FORMAT_HELP,
    ColbertFormat,
    SparseFormat,
    colbert_fields,
    sparse_form,
)
from local_server.engine.core import InferenceCore
from local_server.engine.types import EMBEDDING, EmbedNeeds
from local_server.http.auth import Auth, Core
from local_server.http.body import ParsedBodyRoute
from local_server.http.errors import BadRequest
from local_server.http.middleware import tag_dialect
from local_server.http.model_urls import PREFIX, scoped_core
from local_server.http.responses import FastJSONResponse
from local_server.http.routers import TaskRouter

router = TaskRouter("embed", tags=["TEI and /embed"], route_class=ParsedBodyRoute, dependencies=[Auth])


class EmbedRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    inputs: str | list[str] | None = Field(default=None, description="TEI: text or texts (bare list answer)")
    texts: str | list[str] | None = Field(default=None, description="seed guide: text or texts")
    mode: Literal["dense", "sparse", "colbert"] = Field(default="dense", description="seed guide: which output")
    max_length: int | None = Field(default=None, description="seed guide: token limit per text")
    truncate: bool = Field(default=True, description="TEI: false refuses inputs over the limit")
    normalize: bool = True
    model: str | None = None
    colbert_format: ColbertFormat | None = Field(default=None, description="seed guide, bge-local: "
                                                 + COLBERT_FORMAT_HELP)
    sparse_format: SparseFormat | None = Field(default=None, description="seed guide, bge-local: "
                                               + SPARSE_FORMAT_HELP + "; unset: FlagEmbedding's {token: weight}")
    encoding_format: Literal["float", "base64"] | None = Field(default=None, description="seed guide, bge-local: "
                                                               "base64 for ColBERT rows")


class SparseRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    inputs: str | list[str]
    truncate: bool = True
    model: str | None = None
    sparse_format: SparseFormat | None = Field(default=None, description="bge-local: " + SPARSE_FORMAT_HELP
                                               + "; unset: TEI's [{index, value}]")


def _validated(model: type[BaseModel], body: dict[str, Any]) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc


def is_cohere(body: dict[str, Any]) -> bool:
    """Cohere's body: ``texts`` without TEI's ``inputs`` or the seed guide's ``mode``/``max_length``. A bare
    ``{"texts": […]}`` is answered in Cohere's floats shape, whose ``embeddings`` is the same list of vectors the
    seed guide's dense answer holds, so either reader gets what it expects."""
    return "texts" in body and not {"inputs", "mode", "max_length"} & body.keys()


# /embed reads its body as a plain object and tells the shapes apart itself; the docs show both shapes.
_EMBED_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"anyOf": [
    {**EmbedRequest.model_json_schema(), "title": "TEI or seed guide"},
    {"$ref": "#/components/schemas/CohereEmbedRequest"},
]}}}}}


@router.post("/embed", response_class=FastJSONResponse, openapi_extra=_EMBED_BODY)
async def embed(raw: Annotated[dict[str, Any], Body(description="TEI, seed guide or Cohere body")],
                core: Core, request: Request) -> FastJSONResponse:
    if is_cohere(raw):
        tag_dialect(request, "Cohere")
        return await cohere.embed(_validated(cohere.CohereEmbedRequest, raw), core, 1)
    body: EmbedRequest = _validated(EmbedRequest, raw)
    tag_dialect(request, "TEI" if body.texts is None else "seed /embed")
    if body.inputs is not None and body.texts is not None:
        raise BadRequest("send either 'inputs' (TEI) or 'texts' (/embed with mode), not both")
    if body.inputs is None and body.texts is None:
        raise BadRequest("missing 'inputs' (TEI) or 'texts' (/embed with mode)")
    model = core.model_for(EMBEDDING, body.model)
    if body.inputs is not None:
        texts = as_text_list(body.inputs, "inputs")
        result = await core.embed(model, texts, EmbedNeeds(dense=True), truncate=body.truncate)
        return FastJSONResponse([v.dense for v in result.vectors])
    texts = as_text_list(body.texts, "texts")
    needs = EmbedNeeds(dense=body.mode == "dense", sparse=body.mode == "sparse", colbert=body.mode == "colbert")
    result = await core.embed(model, texts, needs, truncate=body.truncate, max_length=body.max_length,
                              sparse_tokens=body.mode == "sparse" and body.sparse_format in (None, "token_map"))
    extra: dict[str, Any] = {}
    embeddings: list[Any]
    if body.mode == "dense":
        embeddings = [v.dense for v in result.vectors]
    elif body.mode == "sparse":
        tokens = result.sparse_tokens or [None] * len(result.vectors)
        if body.sparse_format is None:  # the seed guide's answer: FlagEmbedding's convert_id_to_token map
            embeddings = [dict(zip(t or [], (v.sparse or {}).values(), strict=True))
                          for t, v in zip(tokens, result.vectors, strict=True)]
        else:
            embeddings = [sparse_form(v, t, body.sparse_format) for t, v in zip(tokens, result.vectors, strict=True)]
    else:
        forms = [colbert_fields(v.colbert, body.colbert_format or "float", body.encoding_format)
                 for v in result.vectors]
        embeddings = [f["embedding"] for f in forms]
        for key, name in (("shape", "colbert_shapes"), ("scales", "colbert_scales")):  # one per text
            if forms and key in forms[0]:
                extra[name] = [f[key] for f in forms]
    return FastJSONResponse({
        "embeddings": embeddings,
        **extra,
        "mode": body.mode,
        "model": model.name,
        "usage": {"prompt_tokens": result.total_tokens, "total_tokens": result.total_tokens},
    })


@router.post("/embed_sparse", response_class=FastJSONResponse)
async def embed_sparse(body: SparseRequest, core: Core, request: Request) -> FastJSONResponse:
    tag_dialect(request, "TEI")
    model = core.model_for(EMBEDDING, body.model)
    texts = as_text_list(body.inputs, "inputs")
    result = await core.embed(model, texts, EmbedNeeds(dense=False, sparse=True), truncate=body.truncate,
                              sparse_tokens=body.sparse_format == "token_map")
    if body.sparse_format is not None:
        tokens = result.sparse_tokens or [None] * len(result.vectors)
        return FastJSONResponse([sparse_form(v, t, body.sparse_format)
                                 for t, v in zip(tokens, result.vectors, strict=True)])
    return FastJSONResponse([
        [{"index": token_id, "value": weight} for token_id, weight in sorted(v.sparse.items())]
        for v in result.vectors
    ])


async def _run_model(raw: dict[str, Any], core: InferenceCore, request: Request) -> Any:
    """TEI's root: its one model's task, or on the combined server the task the body asks for."""
    if "query" in raw or core.embedder is None:  # a rerank body, or a reranker's own URL
        return await rerank.rerank(_validated(rerank.RerankRequest, raw), core, request)
    return await embed(raw, core, request)


@router.post("/", response_class=FastJSONResponse, include_in_schema=False)
@router.post("/invocations", response_class=FastJSONResponse, include_in_schema=False)
async def root(raw: Annotated[dict[str, Any], Body()], core: Core, request: Request) -> Any:
    return await _run_model(raw, core, request)


@router.post("/models/{name:path}", response_class=FastJSONResponse, include_in_schema=False)
async def model_root(name: str, raw: Annotated[dict[str, Any], Body()], core: Core, request: Request) -> Any:
    """``POST /models/<name>/``: a per-model base URL used as TEI's root."""
    model = core.model_named(name)
    return await _run_model(raw, scoped_core(core, model, PREFIX + name), request)
