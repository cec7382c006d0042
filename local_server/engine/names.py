"""Lenient model-name matching, as clients really send names.

RAGFlow appends ``___Provider``, Ollama-style clients add ``:tag``, people type ``BAAI/bge-m3`` or
``bge-m3`` in any case, and vLLM users send the model's directory path. All of these name the same model.
"""

from __future__ import annotations

import re

_SUFFIX = re.compile(r"___[^/]*$")
_TAG = re.compile(r":[\w.\-]+$")


def normalise(name: str) -> str:
    name = name.strip().rstrip("/")
    name = _SUFFIX.sub("", name)
    name = _TAG.sub("", name)
    name = name.rsplit("/", 1)[-1]  # organisation prefix or a directory path
    return name.lower()


def matches(requested: str, served: list[str]) -> bool:
    wanted = normalise(requested)
    return any(wanted == normalise(name) for name in served)
