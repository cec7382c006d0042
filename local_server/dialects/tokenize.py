"""``/tokenize`` in TEI's shape (``inputs``: token lists with offsets), vLLM's (``prompt``: ids and count) and
Cohere's (``text``: ids and ``token_strings`` without special tokens, which Dify's Cohere plugin re-joins into
the text it embeds), told apart by the body; ``/detokenize`` for Cohere (``text``) and vLLM (``prompt``).

Each input's tokens stop at the model's max length unless the body says ``truncate: false`` (then at
``--max-tokenize-tokens``), and one answer holds at most ``--max-tokenize-tokens`` tokens: a multi-megabyte text
costs no more than that."""

from __future__ import annotations

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from local_server.dialects.shapes import as_text_list
from local_server.http.auth import Auth, Core
from local_server.http.body import ParsedBodyRoute
from local_server.http.errors import BadRequest
from local_server.http.middleware import tag_dialect
from local_server.http.responses import FastJSONResponse
from local_server.http.routers import TaskRouter

router = TaskRouter("tokenize", tags=["Server"], route_class=ParsedBodyRoute)

COHERE_META = {"api_version": {"version": "1"}}


class TokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    inputs: str | list[str] | None = Field(default=None, description="TEI: answer is a bare list of token lists")
    prompt: str | list[str] | None = Field(default=None, description="vLLM: answer is {tokens, count}")
    text: str | None = Field(default=None, description="Cohere: answer is {tokens, token_strings}, no special "
                                                       "tokens; the token strings join back into the text")
    input: str | list[str] | None = None
    add_special_tokens: bool = True
    truncate: bool = Field(default=True, description="cut each input at the model's max length (false: at "
                                                       "--max-tokenize-tokens)")
    model: str | None = None


@router.post("/tokenize", response_class=FastJSONResponse, dependencies=[Auth])
@router.post("/v1/tokenize", response_class=FastJSONResponse, include_in_schema=False, dependencies=[Auth])
async def tokenize(body: TokenizeRequest, core: Core, request: Request) -> FastJSONResponse:
    cohere = body.inputs is None and body.text is not None and body.prompt is None
    tag_dialect(request, "TEI" if body.inputs is not None else "Cohere" if cohere else "vLLM")
    model = core.any_model()
    if body.inputs is not None:  # TEI shape, with offsets
        texts = as_text_list(body.inputs, "inputs")
        result = await core.tokenize(model, texts, special=body.add_special_tokens, offsets=True,
                                     truncate=body.truncate)
        return FastJSONResponse([[{"id": t.id, "text": t.text, "special": t.special, "start": t.start,
                                   "stop": t.stop} for t in row] for row in result.tokens])
    if cohere:
        ids, pieces = await core.token_pieces(model, body.text, truncate=body.truncate)
        return FastJSONResponse({"tokens": ids, "token_strings": pieces, "meta": COHERE_META})
    value = next((v for v in (body.prompt, body.input) if v is not None), None)
    if value is None:
        raise BadRequest("missing text: send 'inputs' (TEI), 'prompt' (vLLM) or 'text' (Cohere)")
    texts = as_text_list(value, "prompt")
    ids = (await core.tokenize(model, texts, special=body.add_special_tokens, truncate=body.truncate)).ids
    if isinstance(value, str):
        return FastJSONResponse({"tokens": ids[0], "count": len(ids[0]), "max_model_len": model.max_length})
    return FastJSONResponse({"tokens": ids, "count": [len(x) for x in ids], "max_model_len": model.max_length})


class DetokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    tokens: list[int] = Field(description="token ids of the model (Cohere, vLLM)")
    model: str | None = None


@router.post("/detokenize", response_class=FastJSONResponse, dependencies=[Auth])
@router.post("/v1/detokenize", response_class=FastJSONResponse, include_in_schema=False, dependencies=[Auth])
async def detokenize(body: DetokenizeRequest, core: Core) -> FastJSONResponse:
    """Cohere reads ``text``, vLLM ``prompt``: both are given."""
    text = await core.detokenize(core.any_model(), body.tokens)
    return FastJSONResponse({"text": text, "prompt": text, "meta": COHERE_META})
