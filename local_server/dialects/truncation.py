"""Truncation you can see: every embedding and rerank answer says which inputs were cut, and to how many tokens.

Servers that truncate silently (Ollama caps bge-m3 at 2048 tokens) leave users to find out from bad retrieval.
Here each dialect hands its answer and the engine's ``truncated`` list (input index, tokens kept, counted with the
model's own tokenizer, special tokens included; for rerank pairs the document's index and the pair's tokens) to
``reported``, which adds, only when something was cut:

- the header ``X-Truncated-Inputs: 0=512,3=512`` to every answer, whatever its shape (TEI's bare lists too). It
  holds at most ``HEADER_BUDGET`` bytes: beyond them it lists the first inputs that fit and
  ``X-Truncated-Inputs-Omitted: <n>`` counts the rest. Browsers may read both (``EXPOSED``, which the app's CORS
  set-up exposes);
- the field ``"truncated": [{"index": i, "tokens": kept}]`` to a JSON-object answer, every input listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from local_server.http.responses import FastJSONResponse

HEADER = "X-Truncated-Inputs"
OMITTED_HEADER = "X-Truncated-Inputs-Omitted"
EXPOSED = (HEADER, OMITTED_HEADER)
HEADER_BUDGET = 2048  # bytes of the header's value: proxies and clients refuse or cut much larger headers


def headers(truncated: Sequence[tuple[int, int]]) -> dict[str, str]:
    """The headers that report ``truncated`` (none when nothing was cut), within ``HEADER_BUDGET``."""
    if not truncated:
        return {}
    parts: list[str] = []
    size = -1  # the first part has no comma before it
    for index, tokens in truncated:
        part = f"{index}={tokens}"
        if size + 1 + len(part) > HEADER_BUDGET:
            break
        parts.append(part)
        size += 1 + len(part)
    out = {HEADER: ",".join(parts)}
    if len(parts) < len(truncated):
        out[OMITTED_HEADER] = str(len(truncated) - len(parts))
    return out


def reported(content: Any, truncated: Sequence[tuple[int, int]]) -> FastJSONResponse:
    """The dialect's answer, with the inputs cut in the headers and (for a JSON object) in ``truncated``."""
    if not truncated:
        return FastJSONResponse(content)
    if isinstance(content, dict):
        content["truncated"] = [{"index": index, "tokens": tokens} for index, tokens in truncated]
    return FastJSONResponse(content, headers=headers(truncated))
