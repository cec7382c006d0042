"""bge-m3's own hybrid relevance score: FlagEmbedding 1.4.2's ``BGEM3FlagModel.compute_score``, as a reranker.

For a (query, passage) pair, both embedded by bge-m3 with all three outputs (the query cut at
``max_query_length`` tokens, the passage at ``max_passage_length``; FlagEmbedding's defaults are 512 each, cut
at the end with the closing ``</s>`` kept):

- dense: the dot product of the two L2-normalised ``<s>`` vectors (a cosine, -1..1);
- sparse ("lexical matching"): the sum, over the token ids both texts weigh, of the product of their weights
  (each weight is max-aggregated per id, ``<s>``/``</s>``/pad/unk never weigh); unbounded above (>= 0);
- colbert: MaxSim (``engine.compact.maxsim``): the mean over the query's token vectors (``<s>`` excluded) of each
  one's best dot product with the passage's;
- the weighted sum ("colbert+sparse+dense"): ``(w_d * dense + w_s * sparse + w_c * colbert) / (w_d + w_s + w_c)``
  — FlagEmbedding divides by the sum of the weights, so [0.4, 0.2, 0.4] and [2, 1, 2] give the same score.

FlagEmbedding pads a batch of passages with zero ColBERT vectors, so a shorter passage's MaxSim row maximum can
never fall below 0 there; a padding-free MaxSim differs only when every dot product of a query token with a
passage is negative, which bge-m3's ColBERT vectors practically never give (and which would make FlagEmbedding's
own score depend on the batch).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from local_server.engine.compact import maxsim
from local_server.engine.errors import InvalidInput
from local_server.engine.types import EmbeddingVectors

COMPONENTS = ("dense", "sparse", "colbert")
DEFAULT_WEIGHTS = (0.4, 0.2, 0.4)  # FlagEmbedding's README example for bge-m3's "colbert+sparse+dense"


@dataclass(frozen=True)
class Weights:
    """The weights of the dense, sparse and ColBERT scores in the hybrid score: non-negative, not all zero."""

    dense: float
    sparse: float
    colbert: float

    @property
    def total(self) -> float:
        return self.dense + self.sparse + self.colbert

    def as_dict(self) -> dict[str, float]:
        return {"dense": self.dense, "sparse": self.sparse, "colbert": self.colbert}


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{where} must be a number, not {value!r}", code="invalid_hybrid_weights")
    number = float(value)
    if not np.isfinite(number) or number < 0:
        raise InvalidInput(f"{where} must be a finite number >= 0, not {value!r}", code="invalid_hybrid_weights")
    return number


def parse_weights(value: Any, field: str = "hybrid_weights") -> Weights:
    """Weights from what a request or a setting gives: ``[dense, sparse, colbert]``, ``{"dense": .., "sparse": ..,
    "colbert": ..}`` (a missing key weighs 0) or ``"0.4,0.2,0.4"``. ``InvalidInput`` names what is wrong."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
        try:
            value = [float(p) for p in parts]
        except ValueError:
            raise InvalidInput(f"{field} must be three numbers (dense, sparse, colbert), not {value!r}",
                               code="invalid_hybrid_weights") from None
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(COMPONENTS))
        if unknown or not value:
            raise InvalidInput(f"{field} takes the keys dense, sparse and colbert; got {sorted(value)}",
                               code="invalid_hybrid_weights")
        numbers = [_number(value.get(k, 0.0), f"{field}.{k}") for k in COMPONENTS]
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        if len(value) != 3:
            raise InvalidInput(f"{field} must hold three weights (dense, sparse, colbert), not {len(value)}",
                               code="invalid_hybrid_weights")
        numbers = [_number(v, f"{field}[{i}]") for i, v in enumerate(value)]
    else:
        raise InvalidInput(f"{field} must be a list [dense, sparse, colbert] or an object with those keys, "
                           f"not {value!r}", code="invalid_hybrid_weights")
    weights = Weights(*numbers)
    if weights.total <= 0:
        raise InvalidInput(f"{field} must not all be zero", code="invalid_hybrid_weights")
    return weights


@dataclass(frozen=True)
class Components:
    """One pair's three scores and their weighted sum (unclipped)."""

    dense: float
    sparse: float
    colbert: float
    weighted: float

    def as_dict(self) -> dict[str, float]:
        return {"dense": self.dense, "sparse": self.sparse, "colbert": self.colbert, "hybrid": self.weighted}


def lexical_match(query: Mapping[int, float], passage: Mapping[int, float]) -> float:
    """FlagEmbedding's ``compute_lexical_matching_score``: the weights' products over the ids both hold."""
    small, large = (query, passage) if len(query) <= len(passage) else (passage, query)
    return float(sum(weight * large[token] for token, weight in small.items() if token in large))


def score_pair(query: EmbeddingVectors, passage: EmbeddingVectors, weights: Weights) -> Components:
    """The three scores of one pair (both embedded with dense, sparse and ColBERT) and their weighted sum."""
    assert query.dense is not None and passage.dense is not None
    dense = float(np.dot(query.dense.astype(np.float32), passage.dense.astype(np.float32)))
    sparse = lexical_match(query.sparse or {}, passage.sparse or {})
    colbert = maxsim(query.colbert, passage.colbert) if query.colbert is not None and passage.colbert is not None \
        else 0.0
    weighted = (weights.dense * dense + weights.sparse * sparse + weights.colbert * colbert) / weights.total
    return Components(dense, sparse, colbert, weighted)


def score_pairs(queries: Sequence[EmbeddingVectors], passages: Sequence[EmbeddingVectors],
                pairs: Sequence[tuple[int, int]], weights: Weights) -> list[Components]:
    """``score_pair`` of ``queries[q]`` and ``passages[p]`` for each ``(q, p)`` of ``pairs``, in order."""
    return [score_pair(queries[q], passages[p], weights) for q, p in pairs]


def clip(score: float) -> float:
    """The weighted sum as the rerank contract's relevance score: clipped to 0..1 (the sparse score is unbounded,
    the dense and ColBERT ones may be negative)."""
    return min(1.0, max(0.0, score))
