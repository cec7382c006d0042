"""The seeds' way: FlagEmbedding called once per request, as the seed guide's FastAPI service does.

Used by both baselines so they run exactly the same calls: ``seed_server.py`` (over HTTP, one request at a
time) and ``inprocess.py`` (a plain loop, no HTTP). Per request: one ``BGEM3FlagModel.encode(texts,
max_length=8192, ...)`` or one ``FlagReranker.compute_score(pairs, normalize=True)`` — FlagEmbedding
tokenizes, sorts, pads and (its probe pass) computes the first batch twice inside each call.
"""

from __future__ import annotations

import os
from typing import Any

MAX_LENGTH = 8192


def seed_batch_size(texts: list[str]) -> int:
    """The seed guide's "batch size chosen from text length": smaller batches for longer texts."""
    longest = max((len(t) for t in texts), default=0)
    if longest > 8000:
        return 2
    if longest > 2000:
        return 8
    return 32


class SeedWay:
    def __init__(self, embedder: str | None, reranker: str | None, device: str = "cpu"):
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from FlagEmbedding import BGEM3FlagModel, FlagReranker

        fp16 = device.startswith("cuda")
        # devices given explicitly: devices=None would start one process per GPU (models.md)
        self.embedder = BGEM3FlagModel(embedder, use_fp16=fp16, devices=[device]) if embedder else None
        self.reranker = (FlagReranker(reranker, use_fp16=fp16, devices=[device], max_length=MAX_LENGTH)
                         if reranker else None)

    def embed(self, texts: list[str], outputs: tuple[str, ...] = ("dense",)) -> dict[str, Any]:
        assert self.embedder is not None
        return self.embedder.encode(
            texts, batch_size=seed_batch_size(texts), max_length=MAX_LENGTH,
            return_dense="dense" in outputs, return_sparse="sparse" in outputs,
            return_colbert_vecs="colbert" in outputs,
        )

    def rerank(self, query: str, documents: list[str]) -> list[float]:
        assert self.reranker is not None
        scores = self.reranker.compute_score([[query, d] for d in documents], normalize=True)
        return scores if isinstance(scores, list) else [scores]

    def convert(self, out: dict[str, Any], outputs: tuple[str, ...]) -> dict[str, Any]:
        """The seed service's JSON body: lists of floats, sparse weights keyed by token string."""
        assert self.embedder is not None
        body: dict[str, Any] = {}
        if "dense" in outputs:
            body["dense"] = out["dense_vecs"].tolist()
        if "sparse" in outputs:
            body["sparse"] = [
                {self.embedder.tokenizer.decode([int(k)]): float(v) for k, v in weights.items()}
                for weights in out["lexical_weights"]
            ]
        if "colbert" in outputs:
            body["colbert"] = [vecs.tolist() for vecs in out["colbert_vecs"]]
        return body
