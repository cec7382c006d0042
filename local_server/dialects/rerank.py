"""Rerank in every shape clients send, on every path they build.

``/rerank``, ``/v1/rerank``, ``/v2/rerank`` (and ``/api/rerank``, Dify's Ollama plugin) answer both bodies:
- Jina / Cohere / vLLM / Xinference: ``{"query", "documents", "top_n", "return_documents"}`` →
  ``{"id", "model", "results": [{"index", "relevance_score", "document": {"text"}}], "usage"}``. ``document``
  is there unless the client sends ``return_documents: false``: vLLM always answers it (it has no such option),
  Jina answers it by default, and clients written against them read it (MaxKB's vLLM reranker reads the cohere
  SDK's ``result.document``); Cohere's, Dify's and RAGFlow's readers take it or leave it (Cohere's SDK types it
  optional), and RAGFlow's VLLM/Cohere providers, which send ``false``, get none. ``/api/rerank`` (Dify's Ollama
  plugin, whose reader takes a present ``document`` for the text itself) leaves it out unless asked;
- TEI: ``{"query", "texts", "raw_scores", "return_text", "truncate"}`` → bare ``[{"index", "score", "text"?}]``.
The body's shape picks the translator. vLLM's ``/score`` pairs ``text_1`` with ``text_2``.

The model named picks the scorer (``core.rerank_model``): the cross-encoder, or bge-m3's own hybrid score
(``bge-m3-hybrid``, ``bge-m3``: ``core.hybrid_rerank``), which reads ``hybrid_weights``, ``return_components``
and ``cascade_k`` from any of these bodies.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from local_server.dialects.shapes import as_text_list, document_text, new_id, now
from local_server.engine.core import InferenceCore
from local_server.engine.types import HYBRID, RerankResult, ServedModel
from local_server.http.auth import Auth, Core
from local_server.http.body import ParsedBodyRoute
from local_server.http.errors import BadRequest
from local_server.http.middleware import tag_dialect
from local_server.http.responses import FastJSONResponse
from local_server.http.routers import TaskRouter

router = TaskRouter("rerank", tags=["Rerank"], route_class=ParsedBodyRoute, dependencies=[Auth])


class RerankRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # max_chunks_per_doc, rank_fields, max_tokens_per_doc, ...

    query: str
    documents: list[Any] | None = Field(default=None, description="Jina/Cohere: strings or {'text': ...} objects")
    texts: list[str] | None = Field(default=None, description="TEI: strings (bare-list answer)")
    model: str | None = None
    top_n: int | None = Field(default=None, description="null or 0: all documents; clamped to the count")
    return_documents: bool | None = Field(default=None, description="false leaves 'document' out (default: "
                                                                    "included, as vLLM and Jina do)")
    return_len: bool | None = None
    raw_scores: bool = Field(default=False, description="logits instead of sigmoid scores in 0..1")
    return_text: bool = False
    truncate: bool = True
    # bge-m3's hybrid score (model bge-m3-hybrid or bge-m3)
    hybrid_weights: Any = Field(default=None, description="hybrid: [dense, sparse, colbert] or an object with "
                                                          "those keys (default: the server's --hybrid-weights)")
    return_components: bool = Field(default=False, description="hybrid: each result's dense, sparse and colbert "
                                                               "scores and their weighted sum")
    cascade_k: int | None = Field(default=None, description="hybrid: shortlist this many, then rerank them with "
                                                            "the cross-encoder")


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    text_1: str | list[str]
    text_2: str | list[str]
    model: str | None = None
    truncate_prompt_tokens: int | None = None
    hybrid_weights: Any = None


@router.post("/v1/rerank", response_class=FastJSONResponse)
@router.post("/rerank", response_class=FastJSONResponse, include_in_schema=False)
@router.post("/v2/rerank", response_class=FastJSONResponse, include_in_schema=False)
@router.post("/v1/v2/rerank", response_class=FastJSONResponse, include_in_schema=False)  # ClientV2 given …/v1
async def rerank(body: RerankRequest, core: Core, request: Request) -> FastJSONResponse:
    return await _rerank(body, core, request, documents_by_default=True)


@router.post("/api/rerank", response_class=FastJSONResponse, include_in_schema=False)
async def ollama_rerank(body: RerankRequest, core: Core, request: Request) -> FastJSONResponse:
    return await _rerank(body, core, request, documents_by_default=False)


async def _rerank(body: RerankRequest, core: Core, request: Request, *, documents_by_default: bool) -> FastJSONResponse:
    tag_dialect(request, "TEI" if body.texts is not None else "Jina/Cohere")
    if (body.documents is None) == (body.texts is None):
        raise BadRequest("send the documents as 'documents' (Jina/Cohere) or as 'texts' (TEI), exactly one of them")
    model = core.rerank_model(body.model)
    if body.texts is not None:  # TEI
        result = await _ranked(core, model, body, body.texts)
        return FastJSONResponse([
            {"index": r.index, "score": r.score, **({"text": body.texts[r.index]} if body.return_text else {}),
             **_components(r.components)}
            for r in result.results
        ])
    documents = [document_text(d, i) for i, d in enumerate(body.documents or [])]
    result = await _ranked(core, model, body, documents)
    results = []
    for r in result.results:
        item: dict[str, Any] = {"index": r.index, "relevance_score": r.score, **_components(r.components)}
        if body.return_documents or (body.return_documents is None and documents_by_default):
            item["document"] = {"text": documents[r.index]}
        results.append(item)
    return FastJSONResponse({
        "id": new_id("rerank"),
        "model": model.name,
        "results": results,
        "usage": {"prompt_tokens": result.total_tokens, "total_tokens": result.total_tokens},
        "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1},
                 "tokens": {"input_tokens": result.total_tokens, "output_tokens": 0}},
    })


async def _ranked(core: InferenceCore, model: ServedModel, body: RerankRequest, documents: list[str]) -> RerankResult:
    """The one core call: the hybrid score or the cross-encoder, by the model's kind."""
    if model.kind == HYBRID:
        return await core.hybrid_rerank(model, body.query, documents, weights=body.hybrid_weights, top_n=body.top_n,
                                        raw_scores=body.raw_scores, truncate=body.truncate,
                                        components=body.return_components, cascade_k=body.cascade_k)
    asked = [f for f in ("hybrid_weights", "cascade_k") if getattr(body, f) is not None]
    if body.return_components:
        asked.append("return_components")
    if asked:
        hybrid = core.models.of_kind(HYBRID)
        raise BadRequest(f"{', '.join(asked)} apply to bge-m3's hybrid score, not to the cross-encoder {model.name}: "
                         + (f"name the model {hybrid.name!r}" if hybrid else "this server runs no embedding model"),
                         code="hybrid_only")
    return await core.rerank(model, body.query, documents, top_n=body.top_n, raw_scores=body.raw_scores,
                             truncate=body.truncate)


def _components(components: dict[str, float] | None) -> dict[str, Any]:
    return {} if components is None else {"components": components}


@router.post("/score", response_class=FastJSONResponse)
@router.post("/v1/score", response_class=FastJSONResponse, include_in_schema=False)
async def score(body: ScoreRequest, core: Core, request: Request) -> FastJSONResponse:
    """vLLM: one text_1 against each text_2, or text_1[i] against text_2[i]."""
    tag_dialect(request, "vLLM")
    first, second = as_text_list(body.text_1, "text_1"), as_text_list(body.text_2, "text_2")
    model = core.rerank_model(body.model)
    if model.kind == HYBRID:
        result = await core.hybrid_score(model, first, second, weights=body.hybrid_weights)
    else:
        result = await core.score(model, first, second, max_length=body.truncate_prompt_tokens)
    return FastJSONResponse({
        "id": new_id("score"),
        "object": "list",
        "created": now(),
        "model": model.name,
        "data": [{"index": i, "object": "score", "score": s} for i, s in enumerate(result.scores)],
        "usage": {"prompt_tokens": result.total_tokens, "total_tokens": result.total_tokens},
    })
