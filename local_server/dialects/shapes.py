"""Small helpers every dialect uses to read the shapes clients send."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

from pydantic import BeforeValidator

from local_server.engine import names
from local_server.engine.core import InferenceCore
from local_server.engine.errors import ModelNotServed, NotReady
from local_server.engine.types import ServedModel
from local_server.server.errors import BadRequest

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


def model_named(core: InferenceCore, requested: str | None) -> ServedModel:
    """The served model a bare name means, whatever its kind (Xinference's and Ollama's look-ups by name).

    Lenient like every route: a name that matches nothing is the only served model when there is one (not in
    strict mode); with two models it is a 404 that lists them."""
    if not core.ready:
        raise NotReady(core.load_error or "models are still loading; retry in a few seconds", retry_after_s=5)
    served = core.served_models()
    for model in served:
        if requested and names.matches(requested, model.names):
            return model
    if len(served) == 1 and not core.settings.strict_model_names:
        return served[0]
    listed = ", ".join(f"{m.name} ({m.kind})" for m in served)
    raise ModelNotServed(f"model {requested!r} is not served here; served: {listed}")
