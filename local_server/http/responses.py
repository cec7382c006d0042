"""How answers are rendered: orjson (numpy arrays serialised in C) and OpenAI's base64 vectors."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson
from fastapi.responses import JSONResponse

# An answer holding more elements than this (list items, dict values, numbers in arrays) is rendered in a worker
# thread: thousands of vectors take long enough to render to hold up every other client on the event loop.
HEAVY_ELEMENTS = 100_000


def weight(value: Any, depth: int = 0) -> int:
    """How many elements ``value`` holds, counted until it is clearly heavy (cheap for small answers)."""
    if isinstance(value, np.ndarray):
        return value.size
    if not isinstance(value, (list, dict)) or depth > 3:
        return 1
    items = value.values() if isinstance(value, dict) else value
    total = len(value)
    for item in items:
        if total > HEAVY_ELEMENTS:
            break
        total += weight(item, depth + 1)
    return total


class FastJSONResponse(JSONResponse):
    """orjson rendering: numpy arrays are serialised in C, with no Python loop over floats. A heavy answer is
    rendered off the event loop, when it is sent."""

    def __init__(self, content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None,
                 media_type: str | None = None, background: Any = None):
        self._heavy = content if weight(content) > HEAVY_ELEMENTS else None
        super().__init__(None if self._heavy is not None else content, status_code, headers, media_type, background)

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._heavy is not None:
            self.body = await asyncio.to_thread(self.render, self._heavy)
            self._heavy = None
            length = (b"content-length", str(len(self.body)).encode("latin-1"))  # of the real body
            self.raw_headers = [h for h in self.raw_headers if h[0] != b"content-length"] + [length]
        await super().__call__(scope, receive, send)


def encode_vector(vector: np.ndarray, encoding_format: str | None) -> Any:
    """A float32 vector as numbers, or as OpenAI's base64 of little-endian float32."""
    if encoding_format == "base64":
        return base64.b64encode(np.ascontiguousarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return vector
