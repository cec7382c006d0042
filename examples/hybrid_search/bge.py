"""bge-local over plain HTTP (httpx): bge-m3's three outputs in one /v1/embeddings call, and /v1/rerank.

Only the JSON the server documents is read: ``embedding`` (dense), ``sparse_embedding`` ({indices, values}:
token id -> lexical weight), ``colbert_embedding`` (one row per token), and the rerank ``results``.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

EMBED_BATCH = 16  # texts per /v1/embeddings request (the server splits larger ones itself; this keeps them small)


class BgeLocalError(RuntimeError):
    """The server could not be reached or refused a request; the message says which and why."""


@dataclass
class Encoded:
    """One text's three bge-m3 representations."""

    dense: list[float]
    sparse_indices: list[int]
    sparse_values: list[float]
    colbert: list[list[float]]


@dataclass
class Ranked:
    """One rerank result: the candidate's position in the request, its score and, for the M3 hybrid score,
    the dense / sparse / ColBERT parts it was summed from (``return_components``)."""

    index: int
    score: float
    components: dict[str, float] | None = None


@dataclass
class Reranking:
    model: str  # the model that answered, as the server names it
    results: list[Ranked]


class BgeLocal:
    def __init__(self, url: str, api_key: str | None = None, timeout: float = 120.0):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _post(self, path: str, body: dict) -> dict:
        try:
            response = self._http.post(path, json=body)
        except httpx.HTTPError as exc:
            raise BgeLocalError(f"cannot reach bge-local at {self._http.base_url}: {exc}") from exc
        if response.status_code != 200:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:300]
            raise BgeLocalError(f"POST {path} answered {response.status_code}: {message}")
        return response.json()

    def embed(self, texts: list[str], model: str = "bge-m3") -> list[Encoded]:
        """Dense, sparse and ColBERT vectors of each text, in order."""
        out: list[Encoded] = []
        for start in range(0, len(texts), EMBED_BATCH):
            batch = texts[start:start + EMBED_BATCH]
            answer = self._post("/v1/embeddings", {"model": model, "input": batch, "return_sparse": True,
                                                   "return_colbert_vecs": True})
            items = sorted(answer["data"], key=lambda item: item["index"])
            if len(items) != len(batch):
                raise BgeLocalError(f"/v1/embeddings answered {len(items)} embeddings for {len(batch)} texts")
            out += [Encoded(item["embedding"], [int(i) for i in item["sparse_embedding"]["indices"]],
                            item["sparse_embedding"]["values"], item["colbert_embedding"]) for item in items]
        return out

    def rerank(self, model: str, query: str, documents: list[str], **extra: object) -> Reranking:
        """Every document scored against the query by ``model``, best first. ``extra`` goes into the body as is
        (``return_components``, ``hybrid_weights`` for the M3 hybrid score)."""
        body = {"model": model, "query": query, "documents": documents, "return_documents": False, **extra}
        answer = self._post("/v1/rerank", body)
        results = [Ranked(r["index"], r["relevance_score"], r.get("components")) for r in answer["results"]]
        return Reranking(answer.get("model", model), results)
