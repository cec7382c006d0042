"""Running one precision over the sample, and how far its outputs are from fp32's.

Each precision's model is loaded alone (the previous one freed first: a full-size fp32 bge-m3 and its reranker
are ~4.5 GB), run once to warm up, then timed over the whole sample ``repeat`` times (the best run counts: the
other runs only lost time to something else on the machine). The batches are those the server would form:
at most ``MAX_BATCH_TOKENS`` tokens and ``MAX_BATCH_SIZE`` inputs.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from local_server.engine.compact import maxsim
from local_server.engine.types import EmbedNeeds

MAX_BATCH_TOKENS = 16384
MAX_BATCH_SIZE = 128
ALL = EmbedNeeds(dense=True, sparse=True, colbert=True)


@dataclass
class Run:
    """One precision's outputs over the sample and its best time."""

    precision: str
    outputs: list[Any]  # EmbeddingVectors per text, or one logit per (query, document) pair
    tokens: int
    seconds: float

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


def batches(ids: Sequence[list[int]]) -> list[list[list[int]]]:
    """Consecutive inputs grouped as the server's batcher bounds them."""
    out: list[list[list[int]]] = []
    current: list[list[int]] = []
    tokens = 0
    for item in ids:
        if current and (tokens + len(item) > MAX_BATCH_TOKENS or len(current) >= MAX_BATCH_SIZE):
            out.append(current)
            current, tokens = [], 0
        current.append(item)
        tokens += len(item)
    if current:
        out.append(current)
    return out


def timed_run(make_runtime: Callable[[], Any], precision: str, encode: Callable[[Any], list[list[int]]],
              needs: Any, repeat: int) -> Run:
    """Load, warm up, then the best of ``repeat`` runs over every batch; the runtime is freed before returning."""
    import torch

    runtime = make_runtime()
    try:
        ids = encode(runtime.tokenizer)
        groups = batches(ids)
        with torch.no_grad():
            outputs = [out for group in groups for out in runtime.forward(group, needs)]
            best = math.inf
            for _ in range(repeat):
                start = time.perf_counter()
                for group in groups:
                    runtime.forward(group, needs)
                best = min(best, time.perf_counter() - start)
    finally:
        del runtime
        gc.collect()
    return Run(precision, outputs, sum(map(len, ids)), best)


def _mean_min(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"mean": float("nan"), "min": float("nan")}
    return {"mean": float(np.mean(values)), "min": float(np.min(values))}


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b of two scorings of the same items: 1.0 when they order every pair alike, ties allowed
    for (a pair tied on both sides is left out; 1.0 also when either side ties everything alike)."""
    n = len(a)
    if n < 2:
        return 1.0
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    upper = np.triu_indices(n, k=1)
    dx, dy = np.sign(x[:, None] - x[None, :])[upper], np.sign(y[:, None] - y[None, :])[upper]
    untied_x, untied_y = np.count_nonzero(dx), np.count_nonzero(dy)
    if untied_x == 0 or untied_y == 0:
        return 1.0 if untied_x == untied_y else 0.0
    return float((dx * dy).sum() / np.sqrt(float(untied_x) * float(untied_y)))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / norm) if norm > 0 else 1.0


def sparse_correlation(a: dict[int, float], b: dict[int, float]) -> float:
    """Pearson correlation of two lexical-weight maps over the union of their token ids (absent = 0)."""
    ids = sorted(set(a) | set(b))
    if not ids:
        return 1.0
    x = np.array([a.get(i, 0.0) for i in ids])
    y = np.array([b.get(i, 0.0) for i in ids])
    if len(ids) < 2 or x.std() == 0 or y.std() == 0:
        return 1.0 if np.allclose(x, y, rtol=1e-2, atol=1e-3) else 0.0
    return float(np.corrcoef(x, y)[0, 1])


def _colbert_scores(vectors: list[Any], queries: int) -> np.ndarray:
    """MaxSim of each query (the first ``queries`` texts) with each document (the rest)."""
    return np.array([[maxsim(vectors[q].colbert, vectors[d].colbert) for d in range(queries, len(vectors))]
                     for q in range(queries)])


def compare_embeddings(reference: Run, run: Run, queries: int) -> dict[str, Any]:
    """Dense cosine, sparse correlation, ColBERT agreement (each text's vectors against fp32's by MaxSim, and
    the order MaxSim gives the documents per query) of ``run`` against ``reference``."""
    ref, got = reference.outputs, run.outputs
    dense = [cosine(r.dense, g.dense) for r, g in zip(ref, got, strict=True)]
    sparse = [sparse_correlation(r.sparse, g.sparse) for r, g in zip(ref, got, strict=True)]
    colbert_self = [maxsim(g.colbert, r.colbert) for r, g in zip(ref, got, strict=True) if len(r.colbert)]
    result: dict[str, Any] = {"dense_cosine": _mean_min(dense), "sparse_correlation": _mean_min(sparse),
                              "colbert_maxsim": _mean_min(colbert_self)}
    if 0 < queries < len(ref):
        want, have = _colbert_scores(ref, queries), _colbert_scores(got, queries)
        result["colbert_rank_tau"] = _mean_min([kendall_tau(w, h) for w, h in zip(want, have, strict=True)])
        result["colbert_score_diff_max"] = float(np.abs(want - have).max())
    return result


def text_similarity(reference: Run) -> float:
    """The mean cosine between different texts' fp32 dense vectors. Near 1, the model barely tells texts apart (a
    randomly initialised stand-in: deep random encoders map every input to nearly one vector and amplify any
    rounding), and agreement numbers say little about a real model."""
    dense = np.stack([np.asarray(v.dense, dtype=np.float64) for v in reference.outputs])
    if len(dense) < 2:
        return 0.0
    dense /= np.linalg.norm(dense, axis=1, keepdims=True).clip(1e-12)
    sims = dense @ dense.T
    n = len(dense)
    return float((sims.sum() - np.trace(sims)) / (n * (n - 1)))


def compare_rerank(reference: Run, run: Run, queries: int) -> dict[str, Any]:
    """The order each query's documents get (Kendall's tau) and the largest change of a 0..1 score."""
    def scores(outputs: list[float]) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.asarray(outputs, dtype=np.float64).reshape(queries, -1)))

    want, have = scores(reference.outputs), scores(run.outputs)
    return {"rank_tau": _mean_min([kendall_tau(w, h) for w, h in zip(want, have, strict=True)]),
            "score_diff_max": float(np.abs(want - have).max())}


def speed(reference: Run, run: Run) -> dict[str, float]:
    return {"tokens_per_s": run.tokens_per_s, "seconds": run.seconds,
            "vs_fp32": run.tokens_per_s / reference.tokens_per_s if reference.tokens_per_s else float("nan")}
