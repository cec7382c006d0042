"""The console's "Connect" panel: the what-to-paste table for one URL, each row with the requests that test it.

The rows (provider, form field, what to paste, model name, key rule, where requests go, notes) come from
``clients.forms.rows`` — the table
``bge-local doctor`` prints and ``docs/ragflow.md`` shows. To each row this adds the requests its client sends,
from the same table of client requests the doctor runs (``clients.requests``): the requests of each check the row
names, for the row's model kind, addressed to the server the pasted value designates, with the rules that judge
each answer. The page sends them from the browser and ``connect.js`` interprets the rules (through ``judge.js``);
``connect_view.js`` draws the docs' columns from ``field``, ``model`` and ``key``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from local_server.clients.forms import KEY_NONE, is_hybrid, normalise_url, rows
from local_server.clients.requests import BY_ID, calls
from local_server.engine.core import InferenceCore
from local_server.engine.types import HYBRID

_KIND = {"embedding": "embedding", "rerank": "reranker"}  # a row's form -> the model kind it is for


def connect_rows(url: str, core: InferenceCore) -> dict[str, Any]:
    """The what-to-paste table for ``url`` with, per row, the calls its client sends to this server's models."""
    served = {m.kind: m.name for m in core.models.loaded()}  # the engine's kinds: "embedding", "reranker"
    if (hybrid := core.models.of_kind(HYBRID)) is not None:  # it runs on the embedder: not one of loaded()
        served[HYBRID] = hybrid.name
    table = []
    for row in rows(url, served):
        row_calls = []
        kind = _KIND[row.form]
        names, hybrid = served, is_hybrid(row, served)
        if hybrid:  # the rerank form's requests, naming the hybrid instead of the cross-encoder
            names = {**served, "reranker": row.model} if HYBRID in served else {}
        if row.url is not None and kind in names:
            for check in row.checks:  # the requests for the row's model, and those for no model (auth probes)
                if check in BY_ID:  # not the doctor's own checks (its hybrid check)
                    row_calls += calls(BY_ID[check], normalise_url(row.url), names, (kind, None))
        table.append({"app": row.app, "provider": row.client, "model_type": row.form, "value": row.url,
                      "reaches": row.reaches, "note": row.note,
                      "field": row.field, "model": row.model, "key": row.key, "sends_key": row.key != KEY_NONE,
                      "hybrid": hybrid,
                      "calls": [asdict(c) for c in row_calls]})
    return {"url": normalise_url(url), "rows": table}
