"""The console's "Connect" panel: doctor's what-to-paste table for one URL, each row with the calls to test it.

The rows (provider, what to paste, where requests go, notes) come from ``tools.doctor.paste.rows`` — the same
table ``bge-local doctor`` prints and ``docs/ragflow.md`` shows. To each row this adds the requests the row's
client sends, as data the page replays from the browser: each doctor check id a row lists maps to the
method, route and body that client sends (``_calls_for_check``, with the doctor's sample texts), addressed
to the server the pasted value designates; a check id without calls here is an error, so a new doctor check
cannot leave a row untested. The doctor is imported only when the panel asks (``serve`` never loads the
offline tools at start-up). The page judges each answer the way that client reads it (``expect``).
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
    expect: str  # how the answer is read: a key of CHECKS in ui/connect.js
    count: int  # items the answer must hold


def _calls_for_check(check: str, url: str, form: str, embedder: str | None,
                     reranker: str | None) -> list[ClientCall]:
    """The requests behind one doctor check id (with doctor's sample texts), addressed to the pasted ``url``;
    none when the model the row is for is not served."""
    from local_server.tools.doctor.checks import DOCUMENTS, QUERY, TEXTS, TOKEN_IDS
    from local_server.tools.doctor.paste import normalise_url

    root = normalise_url(url)
    name = embedder if form == "embedding" else reranker
    if name is None or (check.startswith(("embeddings", "tei_embed", "cohere", "ollama", "token_ids"))
                        and embedder is None):
        return []
    if check == "embeddings_float":
        body = {"model": embedder, "input": TEXTS, "encoding_format": "float"}
        return [ClientCall("POST", f"{root}/v1/embeddings", body, "openai_embeddings", len(TEXTS))]
    if check == "embeddings_base64":  # RAGFlow Xinference/LocalAI through openai-python: base64
        body = {"model": embedder, "input": TEXTS, "encoding_format": "base64"}
        return [ClientCall("POST", f"{root}/v1/embeddings", body, "openai_embeddings_base64", len(TEXTS))]
    if check == "token_ids":  # Dify's OpenAI plugin: cl100k_base token ids
        body = {"model": embedder, "input": [TOKEN_IDS], "encoding_format": "float"}
        return [ClientCall("POST", f"{root}/v1/embeddings", body, "openai_embeddings", 1)]
    if check == "tei_embed":
        return [ClientCall("POST", f"{root}/embed", {"inputs": [TEXTS[0]]}, "tei_embed", 1)]
    if check == "tei_models":  # Dify's TEI plugin: the per-model URL's /info names one model of the row's type
        base = url.rstrip("/")
        calls = [ClientCall("GET", f"{base}/info", None, f"tei_info_{form}", 0)]
        if form == "embedding":
            body = {"model": embedder, "input": TEXTS}
            calls.append(ClientCall("POST", f"{base}/v1/embeddings", body, "openai_embeddings", len(TEXTS)))
        return calls
    if check == "xinference":  # xinference-client: auth probe, the model's description, then its route
        calls = [ClientCall("GET", f"{root}/v1/cluster/auth", None, "xinference_auth", 0),
                 ClientCall("GET", f"{root}/v1/models/{name}", None, f"xinference_model_{form}", 0)]
        if form == "embedding":
            body = {"model": embedder, "input": TEXTS}
            calls.append(ClientCall("POST", f"{root}/v1/embeddings", body, "openai_embeddings", len(TEXTS)))
        return calls
    if check == "cohere":  # Dify's Cohere plugin: token strings, then floats with billed units
        return [ClientCall("POST", f"{root}/v1/tokenize", {"text": TEXTS[0], "model": embedder}, "cohere_tokenize",
                           len(TEXTS[0])),
                ClientCall("POST", f"{root}/v1/embed", {"texts": TEXTS[:1], "model": embedder,
                                                        "input_type": "search_query"}, "cohere_embed", 1)]
    if check == "ollama":  # Ollama's /api/embed, and /api/embeddings (RAGFlow up to 0.25)
        return [ClientCall("POST", f"{root}/api/embed", {"model": embedder, "input": TEXTS[:1], "truncate": True},
                           "ollama_embed", 1),
                ClientCall("POST", f"{root}/api/embeddings", {"model": embedder, "prompt": TEXTS[0]},
                           "ollama_embedding", 1)]
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
        target = url.rstrip("/") if "/models/" in url else root  # Dify's TEI: the per-model URL it was given
        return [ClientCall("POST", f"{target}/rerank", body, "tei_rerank", len(DOCUMENTS))]
    raise ValueError(f"the console has no calls for doctor check {check!r}")  # a new check: add its calls here


def connect_rows(url: str, core: InferenceCore) -> dict[str, Any]:
    """Doctor's table for ``url`` with, per row, the calls its client sends to this server's models."""
    from local_server.tools.doctor.paste import KEY_NONE, normalise_url, rows  # the table's one source

    models = {m.kind: m.name for m in core.served_models()}
    embedder, reranker = models.get(EMBEDDING), models.get(RERANKER)
    table = []
    served = {kind: name for kind, name in (("embedding", embedder), ("reranker", reranker)) if name}
    for row in rows(url, served):
        calls: list[ClientCall] = []
        if row.url is not None:
            for check in row.checks:
                calls += _calls_for_check(check, row.url, row.form, embedder, reranker)
        table.append({"app": row.app, "provider": row.client, "model_type": row.form, "value": row.url,
                      "reaches": row.reaches, "note": row.note,
                      "field": row.field, "model": row.model, "key": row.key, "sends_key": row.key != KEY_NONE,
                      "calls": [asdict(c) for c in calls]})
    return {"url": normalise_url(url), "rows": table}
