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
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from local_server.dialects.shapes import as_text_list, document_text, new_id, now
from local_server.dialects.truncation import reported
from local_server.engine.types import RERANKER
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


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    text_1: str | list[str]
    text_2: str | list[str]
    model: str | None = None
    truncate_prompt_tokens: int | None = None


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
    model = core.model_for(RERANKER, body.model)
    top_n = body.top_n
    if body.texts is not None:  # TEI
        result = await core.rerank(model, body.query, body.texts, top_n=top_n, raw_scores=body.raw_scores,
                                   truncate=body.truncate)
        return reported([
            {"index": r.index, "score": r.score, **({"text": body.texts[r.index]} if body.return_text else {})}
            for r in result.results
        ], result.truncated)
    documents = [document_text(d, i) for i, d in enumerate(body.documents or [])]
    result = await core.rerank(model, body.query, documents, top_n=top_n, raw_scores=body.raw_scores,
                               truncate=body.truncate)
    results = []
    for r in result.results:
        item: dict[str, Any] = {"index": r.index, "relevance_score": r.score}
        if body.return_documents or (body.return_documents is None and documents_by_default):
            item["document"] = {"text": documents[r.index]}
        results.append(item)
    return reported({
        "id": new_id("rerank"),
        "model": model.name,
        "results": results,
        "usage": {"prompt_tokens": result.total_tokens, "total_tokens": result.total_tokens},
        "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1},
                 "tokens": {"input_tokens": result.total_tokens, "output_tokens": 0}},
    }, result.truncated)


@router.post("/score", response_class=FastJSONResponse)
@router.post("/v1/score", response_class=FastJSONResponse, include_in_schema=False)
async def score(body: ScoreRequest, core: Core, request: Request) -> FastJSONResponse:
    """vLLM: one text_1 against each text_2, or text_1[i] against text_2[i]."""
    tag_dialect(request, "vLLM")
    first, second = as_text_list(body.text_1, "text_1"), as_text_list(body.text_2, "text_2")
    model = core.model_for(RERANKER, body.model)
    result = await core.score(model, first, second, max_length=body.truncate_prompt_tokens)
    return reported({
        "id": new_id("score"),
        "object": "list",
        "created": now(),
        "model": model.name,
        "data": [{"index": i, "object": "score", "score": s} for i, s in enumerate(result.scores)],
        "usage": {"prompt_tokens": result.total_tokens, "total_tokens": result.total_tokens},
    }, result.truncated)
