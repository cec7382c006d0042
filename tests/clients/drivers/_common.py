"""What every driver shares: the inputs, and one JSON line out with each scenario's result or its error.

A driver runs in the client libraries' own venv (.cache/venvs/clients), never imports bge-local, and is given the
server's base URL as its only argument. Each scenario returns ``{"vectors": [[...]]}``, ``{"sparse": [...]}`` or
``{"ranking": [[index, score], ...]}`` (best first, as the library hands it to its user); an exception is recorded
as ``{"error": "..."}`` so that the test names the scenario that broke."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from typing import Any

TEXTS = ["The capital of France is Paris.", "BGE M3 是一个多语言、多功能、多粒度的向量模型。",
         "Horses and cows are animals"]
QUERY = "What is the capital of France?"
DOCS = ["Is it sunny today?", "The capital of France is Paris.", "Horses and cows are both animals"]
KEY = "x"  # the server has no key; every library wants one


def floats(vectors: Any) -> list[list[float]]:
    return [[float(x) for x in v] for v in vectors]


def run(scenarios: dict[str, Callable[[str], dict]]) -> None:
    url = sys.argv[1].rstrip("/")
    wanted = set(sys.argv[2:])
    out: dict[str, dict] = {}
    for name, scenario in scenarios.items():
        if wanted and name not in wanted:
            continue
        try:
            out[name] = scenario(url)
        except Exception as exc:  # reported per scenario, with where it failed
            out[name] = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-2000:]}
    print(json.dumps(out))
