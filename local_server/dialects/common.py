"""What every dialect adapter shares: the core and auth dependencies, vector encoding, JSON rendering."""

from __future__ import annotations

import base64
import hmac
import time
import uuid
from typing import Annotated, Any

import numpy as np
import orjson
from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from local_server.engine.core import EMBEDDING, RERANKER, InferenceCore, ServedModel
from local_server.errors import BadRequest, Unauthorized


class FastJSONResponse(JSONResponse):
    """orjson rendering: numpy arrays are serialised in C, with no Python loop over floats."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def get_core(request: Request) -> InferenceCore:
    return request.app.state.core


def require_key(request: Request) -> None:
    """With keys configured, demand ``Authorization: Bearer <key>``; without, accept any header at all."""
    keys: list[str] = request.app.state.settings.api_keys
    if not keys:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        token = header  # a bare key without the scheme
    token = token.strip().encode()
    if not token:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'", code="missing_api_key")
    # Compare against every key in constant time, without stopping at the first match.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(token, key.encode())
    if not matched:
        raise Unauthorized("invalid API key", code="invalid_api_key")


def tag_dialect(request: Request, dialect: str) -> None:
    """Name the client dialect this request's body spoke, for the requests-by-dialect counter."""
    request.state.dialect = dialect


Core = Annotated[InferenceCore, Depends(get_core)]
Auth = Depends(require_key)


def embedder(core: InferenceCore, model: str | None) -> ServedModel:
    return core.model_for(EMBEDDING, model)


def reranker(core: InferenceCore, model: str | None) -> ServedModel:
    return core.model_for(RERANKER, model)


def encode_vector(vector: np.ndarray, encoding_format: str | None) -> Any:
    """A float32 vector as numbers, or as OpenAI's base64 of little-endian float32."""
    if encoding_format == "base64":
        return base64.b64encode(np.ascontiguousarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return vector


def as_text_list(value: Any, field: str) -> list[str]:
    """A string or a list of strings (the only shapes any client sends for texts)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise BadRequest(f"'{field}' must be a string or a list of strings")


def document_text(doc: Any, index: int) -> str:
    """Rerank documents arrive as strings or as ``{"text": ...}`` objects (Jina, vLLM, Cohere v1)."""
    if isinstance(doc, str):
        return doc
    if isinstance(doc, dict) and isinstance(doc.get("text"), str):
        return doc["text"]
    raise BadRequest(f"documents[{index}] must be a string or an object with a 'text' string")


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())
