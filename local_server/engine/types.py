"""The engine's neutral request and result types: what every dialect translates to and from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from local_server.engine.batcher import BatchStats
    from local_server.engine.tokenization import ModelTokenizer

EMBEDDING = "embedding"
RERANKER = "reranker"


@dataclass(frozen=True)
class EmbedNeeds:
    """Which of bge-m3's outputs a request wants; one forward pass computes the union of a batch's needs."""

    dense: bool = True
    sparse: bool = False
    colbert: bool = False

    def union(self, other: EmbedNeeds) -> EmbedNeeds:
        return EmbedNeeds(self.dense or other.dense, self.sparse or other.sparse, self.colbert or other.colbert)


@dataclass
class EmbeddingVectors:
    dense: np.ndarray | None = None  # (dim,) float32, L2-normalised
    sparse: dict[int, float] | None = None  # token id -> weight, specials and weights <= 0 dropped
    colbert: np.ndarray | None = None  # (tokens - 1, dim) float32, L2-normalised rows


class ModelBackend(Protocol):
    """What the core needs of whatever runs a model's token ids: the local ``Batcher`` (replicas on this
    machine's devices), or, under Ray Serve, handles to the batchers of the model's deployment
    (``local_server.scale.remote.DeploymentBackend``). The core tokenizes, checks and post-processes either way."""

    async def run(self, ids_list: Sequence[list[int]], needs: Any) -> list[Any]:
        """The model's output for each input, in order; raises the engine's errors."""
        ...

    @property
    def queue_depth(self) -> int: ...

    def stats(self) -> BatchStats: ...

    def close(self) -> None: ...


@dataclass
class ServedModel:
    """One loaded model: its names, where it runs, its tokenizer and the batcher in front of its replicas."""

    kind: str  # EMBEDDING or RERANKER
    names: list[str]  # canonical name first
    path: str
    max_length: int
    batcher: ModelBackend
    tokenizer: ModelTokenizer  # thread-safe; the only way requests tokenize
    devices: list[str]
    dtype: str
    dimension: int | None = None

    @property
    def name(self) -> str:
        return self.names[0]


@dataclass
class EmbedResult:
    vectors: list[EmbeddingVectors]
    token_counts: list[int]
    # when asked: each input's sparse token ids as token strings, in the order of ``vectors[i].sparse``
    # (two ids can decode to the same string, so this is a list, not a map)
    sparse_tokens: list[list[str]] | None = None

    @property
    def total_tokens(self) -> int:
        return sum(self.token_counts)


@dataclass
class ScoredDocument:
    index: int
    score: float


@dataclass
class RerankResult:
    results: list[ScoredDocument]
    total_tokens: int


@dataclass
class PairScores:
    """Scores of (text_1, text_2) pairs in input order (vLLM's /score)."""

    scores: list[float]
    total_tokens: int


@dataclass
class Token:
    id: int
    text: str
    special: bool
    start: int
    stop: int


@dataclass
class Tokenized:
    """Token ids per text; with ``tokens`` when offsets were asked for (TEI's /tokenize)."""

    ids: list[list[int]]
    tokens: list[list[Token]] = field(default_factory=list)
