"""Small helpers every dialect uses to read the shapes clients send (model look-ups by name: ``core.model_named``)."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

from pydantic import BeforeValidator

from local_server.http.errors import BadRequest

# ``dimensions: 0`` (infinity_client always sends it) means "not set", like leaving the field out.
Dimensions = Annotated[int | None, BeforeValidator(lambda value: None if value == 0 else value)]


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
