"""What goes over the wire: the request body of each wire format, and the parsers of their answers.

Wire formats are named in ``provider/endpoints.py``. A parser raises ``Shape`` when the JSON is not the answer it
expects (the endpoint is then not the one: discovery tries the next).
"""

from __future__ import annotations

import base64
import math
import struct
from typing import Any

from provider import endpoints as ep


class Shape(Exception):
    """The JSON is not the expected response shape."""


# ---- request bodies -------------------------------------------------------------------------------------------


def embedding_body(wire: str, texts: list[str], model: str) -> dict[str, Any]:
    if wire == ep.TEI_EMBED:
        return {"inputs": texts, "truncate": True}
    return {"model": model, "input": texts, "encoding_format": "float"}


def rerank_body(wire: str, query: str, docs: list[str], model: str, top_n: int) -> dict[str, Any]:
    if wire == ep.TEI_RERANK:
        return {"query": query, "texts": docs, "raw_scores": False, "return_text": False, "truncate": True}
    if wire == ep.VLLM_SCORE:
        return {"model": model, "text_1": query, "text_2": docs}
    return {"model": model, "query": query, "documents": docs, "top_n": top_n, "return_documents": False}


# ---- answers --------------------------------------------------------------------------------------------------


def _floats(vec: Any) -> list[float]:
    if isinstance(vec, str):  # base64 little-endian float32, if a server insists
        raw = base64.b64decode(vec)
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    if not isinstance(vec, list) or not vec or not all(isinstance(x, int | float) for x in vec):
        raise Shape("an embedding is not a list of numbers")
    return [float(x) for x in vec]


def parse_embeddings(wire: str, body: Any, n: int) -> tuple[list[list[float]], int | None]:
    """Vectors in input order, and the token count the server reports (None when it reports none)."""
    if wire == ep.TEI_EMBED:
        if not isinstance(body, list):
            raise Shape("expected a list of vectors")
        vectors = [_floats(v) for v in body]
        tokens = None
    else:
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise Shape("no 'data' list")
        items = body["data"]
        if all(isinstance(it, dict) and isinstance(it.get("index"), int) for it in items):
            items = sorted(items, key=lambda it: it["index"])
        vectors = [_floats(it.get("embedding") if isinstance(it, dict) else None) for it in items]
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        tokens = usage.get("prompt_tokens") or usage.get("total_tokens")
        tokens = int(tokens) if isinstance(tokens, int | float) and tokens > 0 else None
    if len(vectors) != n:
        raise Shape(f"{len(vectors)} vectors for {n} texts")
    return vectors, tokens


def parse_scores(wire: str, body: Any, n: int) -> list[tuple[int, float]]:
    """(index, score) pairs as the server gave them."""
    if wire == ep.TEI_RERANK:
        items = body
    elif wire == ep.VLLM_SCORE:
        items = body.get("data") if isinstance(body, dict) else None
    else:
        items = body.get("results") if isinstance(body, dict) else None
        if items is None and isinstance(body, list):  # a TEI server answering on a Jina path
            items = body
    if not isinstance(items, list):
        raise Shape("no list of results")
    out = []
    for it in items:
        if not isinstance(it, dict) or not isinstance(it.get("index"), int):
            raise Shape("a result has no index")
        score = it.get("relevance_score", it.get("score"))
        if not isinstance(score, int | float) or not 0 <= it["index"] < n:
            raise Shape("a result has no score or a bad index")
        out.append((it["index"], float(score)))
    return out


def parse_token_counts(data: Any, n: int) -> list[int]:
    """Token counts from any /tokenize answer: TEI's lists of tokens, vLLM's ``count``/``tokens``."""
    if isinstance(data, dict):
        if isinstance(data.get("count"), int):
            counts = [data["count"]]
        elif isinstance(data.get("tokens"), list):
            tok = data["tokens"]
            counts = [len(t) for t in tok] if tok and isinstance(tok[0], list) else [len(tok)]
        else:
            raise Shape("unknown /tokenize answer")
    elif isinstance(data, list) and all(isinstance(t, list) for t in data):
        counts = [len(t) for t in data]
    elif isinstance(data, list) and n == 1:
        counts = [len(data)]
    else:
        raise Shape("unknown /tokenize answer")
    if len(counts) != n:
        raise Shape(f"{len(counts)} counts for {n} texts")
    return counts


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def unit_scores(scored: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Scores in 0..1 for Dify's threshold: raw logits (any score outside 0..1) go through a sigmoid."""
    if any(s < 0.0 or s > 1.0 for _, s in scored):
        return [(i, sigmoid(s)) for i, s in scored]
    return scored
