"""Doctor's checks for the clients beyond Dify and RAGFlow (issue 20), each calling the server as that client does:

- ``tei_root``: huggingface_hub's ``InferenceClient(base_url).feature_extraction`` and Haystack's
  ``HuggingFaceAPI*Embedder`` post ``{"inputs"}`` to TEI's root, ``POST /``;
- ``rerank_document``: MaxKB's vLLM reranker (cohere ``ClientV2`` → ``/v2/rerank``) and vLLM/Jina clients read
  ``results[].document.text``; a Cohere v2 client given the ``…/v1`` URL posts ``/v1/v2/embed``; infinity_client
  sends ``dimensions: 0``.

Kept beside checks.py as plain functions over its ``Doctor`` (HTTP, timing, the reference vector)."""

from __future__ import annotations

from typing import Any

from local_server.tools.doctor.checks import DOCUMENTS, QUERY, TEXTS, Check, _expect, _need


def check_tei_root(doctor: Any, check: Check) -> str | None:
    if not doctor._model("embedding"):
        return "no embedding model served"
    answer = _expect(doctor._timed(check, doctor.call("POST", "/", {"inputs": TEXTS[:1]})))
    _need(isinstance(answer, list) and len(answer) == 1, "POST / (TEI's root) must answer a bare [[floats]] list")
    doctor._same_vector(answer[0], "POST /")
    check.detail = "TEI's root embeds (huggingface_hub InferenceClient, Haystack)"
    return None


def check_rerank_document(doctor: Any, check: Check) -> str | None:
    model = doctor._model("reranker")
    if not model:
        return "no reranker served"
    body = {"model": model, "query": QUERY, "documents": DOCUMENTS, "top_n": None, "max_tokens_per_doc": None}
    answer = _expect(doctor._timed(check, doctor.call("POST", "/v2/rerank", body)))
    results = answer.get("results") if isinstance(answer, dict) else None
    _need(isinstance(results, list) and len(results) == len(DOCUMENTS), "/v2/rerank: no results for every document")
    _need(all((r.get("document") or {}).get("text") == DOCUMENTS[r["index"]] for r in results),
          "/v2/rerank: results[].document.text missing (MaxKB's vLLM reranker reads it)")
    detail = "/v2/rerank answers document.text"
    embedder = doctor._model("embedding")
    if embedder:
        cohere = {"model": embedder, "texts": TEXTS[:1], "input_type": "search_document", "embedding_types": ["float"]}
        answer = _expect(doctor._timed(check, doctor.call("POST", "/v1/v2/embed", cohere)))
        doctor._same_vector(((answer.get("embeddings") or {}).get("float") or [None])[0], "/v1/v2/embed")
        zero = {"model": embedder, "input": TEXTS[:1], "dimensions": 0, "encoding_format": "float"}
        answer = _expect(doctor._timed(check, doctor.call("POST", "/v1/embeddings", zero)))
        doctor._same_vector(((answer.get("data") or [{}])[0]).get("embedding"), "dimensions 0")
        detail += "; /v1/v2/embed and dimensions 0 answer"
    check.detail = detail
    return None
