"""``/tokenize`` in TEI's shape (``inputs``: token lists with offsets) and vLLM's (``prompt``: ids and count)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from local_server.dialects.shapes import as_text_list
from local_server.server.auth import Auth, Core
from local_server.server.errors import BadRequest
from local_server.server.responses import FastJSONResponse

router = APIRouter(tags=["Server"])


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
async def tokenize(body: TokenizeRequest, core: Core) -> FastJSONResponse:
    model = core.any_model()
    if body.inputs is not None:  # TEI shape, with offsets
        texts = as_text_list(body.inputs, "inputs")
        result = await core.tokenize(model, texts, special=body.add_special_tokens, offsets=True)
        return FastJSONResponse([[{"id": t.id, "text": t.text, "special": t.special, "start": t.start,
                                   "stop": t.stop} for t in row] for row in result.tokens])
    value = next((v for v in (body.prompt, body.text, body.input) if v is not None), None)
    if value is None:
        raise BadRequest("missing text: send 'inputs' (TEI), 'prompt' (vLLM) or 'text'")
    texts = as_text_list(value, "prompt")
    ids = (await core.tokenize(model, texts, special=body.add_special_tokens)).ids
    if isinstance(value, str):
        return FastJSONResponse({"tokens": ids[0], "count": len(ids[0]), "max_model_len": model.max_length})
    return FastJSONResponse({"tokens": ids, "count": [len(x) for x in ids], "max_model_len": model.max_length})
