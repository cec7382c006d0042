"""The console's "Connect" panel: doctor's what-to-paste table for one URL, each row with the calls to test it.

The rows (provider, what to paste, where requests go, notes) come from ``paste_rows`` — the same table
``bge-local doctor`` prints and ``docs/ragflow.md`` shows. To each row this adds the requests the row's
client sends, as data the page replays from the browser: the doctor check ids a row lists map to the
method, route and body that client sends (``CHECK_CALLS``, the bodies doctor's checks send), addressed
to the server the pasted value designates. The doctor is imported only when the panel asks (``serve``
never loads the offline tools at start-up). The page judges each answer the way that client reads it
(``expect``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from local_server.engine.core import InferenceCore
from local_server.engine.types import EMBEDDING, RERANKER


@dataclass(frozen=True)
class ClientCall:
    """One request a client sends: ``url`` is absolute; ``expect`` names how the client reads the answer."""

    method: str
    url: str
    body: Any
    expect: str  # openai_embeddings | openai_embeddings_base64 | tei_embed | rerank | rerank_no_usage | tei_rerank
    count: int  # items the answer must hold


def _calls_for_check(check: str, root: str, embedder: str | None, reranker: str | None) -> list[ClientCall]:
    """The requests behind one doctor check id (with doctor's sample texts); none when its model is not served."""
    from local_server.tools.doctor.checks import DOCUMENTS, QUERY, TEXTS

    if check.startswith(("embeddings", "tei_embed")) and embedder is None:
        return []
    if check.startswith(("rerank", "tei_rerank")) and reranker is None:
        return []
    if check == "embeddings_float":
        body = {"model": embedder, "input": TEXTS, "encoding_format": "float"}
        return [ClientCall("POST", f"{root}/v1/embeddings", body, "openai_embeddings", len(TEXTS))]
    if check == "embeddings_base64":  # RAGFlow Xinference/LocalAI through openai-python: base64
        body = {"model": embedder, "input": TEXTS, "encoding_format": "base64"}
        return [ClientCall("POST", f"{root}/v1/embeddings", body, "openai_embeddings_base64", len(TEXTS))]
    if check == "tei_embed":
        return [ClientCall("POST", f"{root}/embed", {"inputs": [TEXTS[0]]}, "tei_embed", 1)]
    if check == "rerank_v1":
        body = {"model": reranker, "query": QUERY, "documents": DOCUMENTS, "top_n": len(DOCUMENTS)}
        xinference = {"model": reranker, "query": QUERY, "documents": DOCUMENTS, "return_documents": "true",
                      "return_len": "true"}
        return [ClientCall("POST", f"{root}/v1/rerank", body, "rerank", len(DOCUMENTS)),
                ClientCall("POST", f"{root}/v1/rerank", xinference, "rerank_no_usage", len(DOCUMENTS))]
    if check == "rerank_root":
        body = {"model": reranker, "query": QUERY, "documents": DOCUMENTS, "top_n": 3, "return_documents": False}
        return [ClientCall("POST", f"{root}/rerank", body, "rerank", len(DOCUMENTS))]
    if check == "tei_rerank":
        body = {"query": QUERY, "texts": DOCUMENTS, "raw_scores": False, "truncate": True, "return_text": True}
        return [ClientCall("POST", f"{root}/rerank", body, "tei_rerank", len(DOCUMENTS))]
    raise ValueError(f"no client calls known for doctor check {check!r}")


def connect_rows(url: str, core: InferenceCore) -> dict[str, Any]:
    """Doctor's table for ``url`` with, per row, the calls its client sends to this server's models."""
    from local_server.tools.doctor.paste import normalise_url, paste_rows  # the table's one source

    models = {m.kind: m.name for m in core.served_models()}
    embedder, reranker = models.get(EMBEDDING), models.get(RERANKER)
    rows = []
    for row in paste_rows(url):
        calls: list[ClientCall] = []
        if row.value is not None:
            root = normalise_url(row.value)
            for check in row.checks:
                calls += _calls_for_check(check, root, embedder, reranker)
        rows.append({"app": row.app, "provider": row.provider, "model_type": row.model_type, "value": row.value,
                     "reaches": row.reaches, "note": row.note, "sends_key": row.sends_key,
                     "calls": [asdict(c) for c in calls]})
    return {"url": normalise_url(url), "rows": rows}
