"""How answers are rendered: orjson (numpy arrays serialised in C) and OpenAI's base64 vectors."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import orjson
from fastapi.responses import JSONResponse


class FastJSONResponse(JSONResponse):
    """orjson rendering: numpy arrays are serialised in C, with no Python loop over floats."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def encode_vector(vector: np.ndarray, encoding_format: str | None) -> Any:
    """A float32 vector as numbers, or as OpenAI's base64 of little-endian float32."""
    if encoding_format == "base64":
        return base64.b64encode(np.ascontiguousarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return vector
