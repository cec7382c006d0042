"""Where in a JSON body a string is not valid Unicode, to name the field in the 400.

JSON can carry a lone UTF-16 surrogate as an escape (``"\\ud800"``), and Python's JSON reader accepts it (and raw
UTF-8-encoded surrogates too); such a string then fails deep inside the tokenizer or the response encoder.
orjson refuses it (body.py parses every body once with orjson); only then, and only for a small body, is the
body read again here by Python's JSON reader and walked to name the field (``input[2]``), so that a bad body
costs a bounded amount of work whatever its size.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def invalid_text_path(body: bytes) -> str | None:
    """The path (``input[2]``, ``documents[0].text``) of the first string or key in a JSON body that is not
    valid Unicode; None when every string is valid, or when the body is not JSON (the route's own JSON
    reader reports that)."""
    if b"\\u" not in body and b"\xed" not in body:
        return None
    try:
        orjson.loads(body)
        return None  # only well-formed surrogate pairs (characters beyond the BMP)
    except orjson.JSONDecodeError:
        pass
    try:
        value = json.loads(body)  # bytes are decoded with "surrogatepass": lone surrogates survive
    except (ValueError, RecursionError):
        return None
    return _first_invalid(value)


def _valid(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _first_invalid(value: Any) -> str | None:
    stack: list[tuple[str, Any]] = [("", value)]  # explicit stack: bodies may nest deeper than recursion allows
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if not _valid(item):
                return path or "the body"
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(item))))
        elif isinstance(item, dict):
            children = []
            for key, v in item.items():
                name = f"{path}.{key}" if path else key
                if not _valid(key):
                    return f"a field name in {path or 'the body'}"
                children.append((name, v))
            stack.extend(reversed(children))
    return None
