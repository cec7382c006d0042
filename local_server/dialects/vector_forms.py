"""The output forms a request may ask for: ColBERT rows (``colbert_format``) and sparse weights (``sparse_format``).

Every dialect that answers ColBERT or sparse output renders it here, so the forms are the same on every route.
The math (encoding, decoding, MaxSim per form) is the engine's: ``engine/compact.py``; here only the JSON shape.
Layouts (docs/formats.md): base64 is the raw bytes, little-endian, row-major — float ``<f4`` (n, d), fp16 ``<f2``
(n, d), int8 ``i1`` (n, d) with its scales ``<f4`` (n,), binary ``u1`` (n, ⌈d/8⌉).
"""

from __future__ import annotations

import base64
from typing import Any, Literal

import numpy as np

from local_server.engine.compact import encode_colbert, token_weights
from local_server.engine.types import EmbeddingVectors

ColbertFormat = Literal["float", "fp16", "int8", "binary"]
SparseFormat = Literal["indices", "id_map", "token_map"]
COLBERT_FORMAT_HELP = ("ColBERT rows as float (default), fp16, int8 (per-row scales in colbert_scales) or binary "
                       "(sign bits, d/8 bytes a row); with encoding_format base64 the raw little-endian bytes")
SPARSE_FORMAT_HELP = ("sparse weights as indices ({indices, values}), id_map ({\"<token id>\": weight}) or "
                      "token_map ({\"<token text>\": weight}, unique keys)")

_BASE64_DTYPE = {"float": "<f4", "fp16": "<f2", "int8": "i1", "binary": "u1"}


def b64(array: np.ndarray, dtype: str) -> str:
    """``array``'s bytes in ``dtype`` (little-endian), row-major, as base64."""
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def colbert_fields(rows: np.ndarray, form: str, encoding_format: str | None) -> dict[str, Any]:
    """One text's ColBERT rows in ``form``: ``{"embedding", "shape" (base64 only), "scales" (int8 only)}``.

    As JSON numbers: float and fp16 as floats (fp16's values are the half-precision ones), int8 as integers, binary
    as signed bytes (the packed byte read as int8, Vespa's ``np.packbits(...).astype(np.int8)``; ``b & 0xFF`` is the
    unsigned byte). ``shape`` is the shape the base64 bytes decode to: (n, d), binary (n, ⌈d/8⌉)."""
    compact = encode_colbert(rows, form)
    out: dict[str, Any] = {}
    if encoding_format == "base64":
        out["embedding"] = b64(compact.data, _BASE64_DTYPE[form])
        out["shape"] = list(compact.data.shape)
    else:
        out["embedding"] = compact.data.view(np.int8) if form == "binary" else compact.data
    if compact.scales is not None:
        out["scales"] = b64(compact.scales, "<f4") if encoding_format == "base64" else compact.scales
    return out


def sparse_form(vec: EmbeddingVectors, tokens: list[str] | None, form: str) -> dict[str, Any]:
    """One text's sparse weights in ``form``; ``tokens`` (the ids' strings, ``core.embed(sparse_tokens=True)``)
    is needed by token_map alone."""
    weights = vec.sparse or {}
    if form == "id_map":
        return {str(token_id): weight for token_id, weight in weights.items()}
    if form == "token_map":
        assert tokens is not None, "token_map needs the token strings: core.embed(..., sparse_tokens=True)"
        return token_weights(tokens, list(weights.values()))
    return {"indices": list(weights.keys()), "values": list(weights.values())}
