"""The table's "how judged", in Python: each ``Rule`` of ``requests.py`` held against a JSON answer.

``ui/connect.js`` interprets the same rules, test by test, for the console's test buttons; the doctor uses this.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "missing"})()
AGREEMENT = 0.999  # the least cosine between two answers for the same text


class Failed(Exception):
    """An answer that is not what the client reads."""


def at(value: Any, path: str) -> Any:
    """The value at ``path`` (``a.b.0``; ``*`` every item; ``#`` a length; ``~f32`` base64 floats), or MISSING."""
    return _walk(value, path.split(".") if path else [])


def _walk(value: Any, segments: list[str]) -> Any:
    if not segments or value is MISSING:
        return value
    head, rest = segments[0], segments[1:]
    if head == "*":
        return [_walk(item, rest) for item in value] if isinstance(value, list) else MISSING
    if head == "#":
        return len(value) if isinstance(value, list | dict | str) else MISSING
    if head.endswith("~f32"):
        return _walk(_float32s(_walk(value, [head.removesuffix("~f32")])), rest)
    if isinstance(value, dict):
        return _walk(value[head], rest) if head in value else MISSING
    if isinstance(value, list) and head.isdigit():
        return _walk(value[int(head)], rest) if int(head) < len(value) else MISSING
    return MISSING


def _float32s(value: Any) -> Any:
    if isinstance(value, list):
        return [_float32s(v) for v in value]
    raw = _base64(value)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw)) if raw is not None and len(raw) % 4 == 0 else MISSING


def _base64(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _numbers(v: Any) -> bool:
    return isinstance(v, list) and len(v) > 0 and all(
        isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in v)


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def agrees(value: Any, reference: Sequence[Sequence[float]]) -> bool:
    """A vector agrees with the first reference vector, a list of vectors with the references item by item."""
    if not reference:
        return _numbers(value) or (isinstance(value, list) and all(_numbers(v) for v in value))
    vectors = [value] if _numbers(value) else value
    if not isinstance(vectors, list) or not vectors or len(vectors) > len(reference):
        return False
    return all(_numbers(v) and len(v) == len(r) and _cosine(v, r) > AGREEMENT
               for v, r in zip(vectors, reference, strict=False))


Test = Callable[[Any, Any, Sequence[Sequence[float]]], bool]
TESTS: Mapping[str, Test] = {
    "object": lambda v, arg, ref: isinstance(v, dict),
    "list": lambda v, arg, ref: isinstance(v, list),
    "length": lambda v, arg, ref: isinstance(v, list) and len(v) == arg,
    "present": lambda v, arg, ref: v is not MISSING,
    "text_or_absent": lambda v, arg, ref: v is MISSING or isinstance(v, str),
    "bool": lambda v, arg, ref: isinstance(v, bool),
    "equals": lambda v, arg, ref: v == arg,
    "positive_int": lambda v, arg, ref: isinstance(v, int) and not isinstance(v, bool) and v > 0,
    "numbers": lambda v, arg, ref: _numbers(v),
    "base64_f32": lambda v, arg, ref: (raw := _base64(v)) is not None and len(raw) > 0 and len(raw) % 4 == 0,
    "first_key": lambda v, arg, ref: isinstance(v, dict) and list(v)[:1] == [arg],
    "joins": lambda v, arg, ref: isinstance(v, list) and all(isinstance(s, str) for s in v) and "".join(v) == arg,
    "sequence": lambda v, arg, ref: isinstance(v, list) and v == list(range(len(v))),
    "permutation": lambda v, arg, ref: isinstance(v, list) and all(isinstance(i, int) for i in v)
    and sorted(v) == list(range(len(v))),
    "unit": lambda v, arg, ref: isinstance(v, list) and all(
        isinstance(s, int | float) and not isinstance(s, bool) and 0.0 <= s <= 1.0 for s in v),
    "descending": lambda v, arg, ref: isinstance(v, list) and all(
        isinstance(s, int | float) for s in v) and v == sorted(v, reverse=True),
    "same_length": lambda v, arg, ref: isinstance(v, list) and all(isinstance(x, list) for x in v)
    and len({len(x) for x in v}) <= 1,
    "distinct": lambda v, arg, ref: isinstance(v, list) and len({repr(x) for x in v}) == len(v),
    "agrees": lambda v, arg, ref: agrees(v, ref),
}


def judge(body: Any, rules: Sequence[Mapping[str, Any]], reference: Sequence[Sequence[float]] = ()) -> None:
    """Raise ``Failed`` with the first broken rule's message; ``reference``: the vectors answers must agree with."""
    for rule in rules:
        value = at(body, rule["path"])
        test = TESTS[rule["test"]]
        if rule.get("each"):
            items = value if isinstance(value, list) else [MISSING]
            for i, item in enumerate(items):
                if not test(item, rule.get("arg"), reference):
                    raise Failed(rule["message"].replace("{i}", str(i)))
        elif not test(value, rule.get("arg"), reference):
            raise Failed(rule["message"])


_FIELD = re.compile(r"\{([^{}]+)\}")


def describe(template: str, body: Any, values: Mapping[str, Any]) -> str:
    """``template`` with ``{path}``, ``{path:.3f}`` or ``{path|onoff}`` filled from ``body`` (``values`` first);
    ``{{`` and ``}}`` are braces."""
    def field(match: re.Match[str]) -> str:
        spec, _, fmt = match.group(1).partition(":")
        path, _, how = spec.partition("|")
        value = values[path] if path in values else at(body, path)
        if how == "onoff":
            return "on" if value else "off"
        return format(value, fmt) if fmt else str(value)

    parts = template.replace("{{", "\0").replace("}}", "\1")
    return _FIELD.sub(field, parts).replace("\0", "{").replace("\1", "}")
