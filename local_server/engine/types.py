"""The engine's bottom floor: the neutral request and result types every dialect translates to and from, and the
shapes the engine's rooms agree on (batch statistics, batch-size buckets, what a tokenizer and a model backend
offer). It imports nothing from the rest of the engine, so every other module may import it.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

EMBEDDING = "embedding"
RERANKER = "reranker"
HYBRID = "hybrid"  # bge-m3's own dense + sparse + ColBERT score, run on the embedder (engine/hybrid.py)

# Upper bounds of the batch-size histogram's buckets (inputs per forward pass): /metrics, Ray's metrics and the
# batcher's shape buckets all use this one tuple.
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


def size_bucket(inputs: int) -> int:
    """The index in ``BATCH_SIZE_BUCKETS`` (``len(...)`` for more than the last bound) of a batch of ``inputs``."""
    return bisect.bisect_left(BATCH_SIZE_BUCKETS, inputs)


# Token-count buckets: 8 steps per doubling above 64 tokens (a batch rounded up to its bucket computes at most
# 1/8 more), so a runtime that pads a packed batch to its bucket (a CUDA graph, a kernel plan cache) sees about
# 60 shapes between 64 and 16k tokens instead of one per token count.
_TOKEN_STEPS_PER_DOUBLING = 8


def token_bucket(tokens: int) -> int:
    """The smallest bucket bound >= ``tokens`` (multiples of 8 up to 64, then 8 steps per doubling)."""
    if tokens <= 64:
        return max(8, -(-tokens // 8) * 8)
    base = 1 << (tokens.bit_length() - 1)  # the power of two at or below
    step = max(8, base // _TOKEN_STEPS_PER_DOUBLING)
    return -(-tokens // step) * step


def token_bucket_floor(tokens: int) -> int:
    """The largest bucket bound <= ``tokens`` (a token budget rounded down so that its bucket never exceeds it);
    below 8 tokens, ``tokens`` itself."""
    if tokens < 8:
        return max(tokens, 1)
    if tokens <= 64:
        return tokens // 8 * 8
    base = 1 << (tokens.bit_length() - 1)
    step = max(8, base // _TOKEN_STEPS_PER_DOUBLING)
    return tokens // step * step


@dataclass
class BatchStats:
    """Monotonic counts of what a batcher did, read (as a snapshot) by /metrics, the stats page and Ray's metrics.

    Every replica thread updates them under one lock, so counts are never lost with several devices."""

    batches: int = 0
    inputs: int = 0
    tokens: int = 0  # real tokens computed
    padded_tokens: int = 0  # tokens computed including padding (as a padded rectangle: width x inputs)
    oom_splits: int = 0
    dropped: int = 0  # inputs whose request went away before they ran
    failed_inputs: int = 0  # inputs whose forward pass failed (after isolation)
    busy_s: float = 0.0  # time the devices were computing, summed over replicas (utilisation = its rate)
    batch_size_counts: list[int] = field(default_factory=lambda: [0] * (len(BATCH_SIZE_BUCKETS) + 1))

    def copy(self) -> BatchStats:
        return BatchStats(**{**self.__dict__, "batch_size_counts": list(self.batch_size_counts)})


class Encoded(list[list[int]]):
    """Token ids per input, to every reader the plain list they are, which also says which inputs were cut:
    ``truncated`` holds (input index, tokens kept, special tokens included) for each, in input order. Empty
    when nothing was cut: recording costs nothing unless an input is too long."""

    def __init__(self, rows: Sequence[list[int]] = (), truncated: Sequence[tuple[int, int]] = ()):
        super().__init__(rows)
        self.truncated: list[tuple[int, int]] = list(truncated)


class Tokenizer(Protocol):
    """What the core needs of a model's tokenizer (``engine.tokenization.ModelTokenizer`` is the one there is).
    Thread-safe: the core calls it from worker threads."""

    def encode(self, texts: Sequence[str], *, max_length: int, truncate: bool, special: bool = True,
               keep: str = "start") -> Encoded: ...

    def encode_pairs(self, pairs: Sequence[tuple[str, str]], *, max_length: int, truncate: bool,
                     ) -> Encoded: ...

    def tokenize(self, texts: list[str], *, special: bool, offsets: bool) -> Tokenized: ...

    def pieces(self, text: str) -> tuple[list[int], list[str]]: ...

    @property
    def vocab_size(self) -> int: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def token_strings(self, ids: Sequence[int]) -> list[str]: ...


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

    kind: str  # a key of engine.registry.KINDS: EMBEDDING, RERANKER or HYBRID (a view of the embedder)
    names: list[str]  # canonical name first
    path: str
    max_length: int
    batcher: ModelBackend
    tokenizer: Tokenizer  # thread-safe; the only way requests tokenize
    devices: list[str]
    dtype: str
    dimension: int | None = None
    precision: str = "fp32"  # what the replicas run: fp32, bf16, int8 (CPU); fp16, bf16, fp32 (GPU)

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
    truncated: list[tuple[int, int]] = field(default_factory=list)  # (input index, tokens kept) of inputs cut

    @property
    def total_tokens(self) -> int:
        return sum(self.token_counts)


@dataclass
class ScoredDocument:
    index: int
    score: float
    # the hybrid score's parts when asked: "dense", "sparse", "colbert" and their weighted sum "hybrid"
    components: dict[str, float] | None = None


@dataclass
class RerankResult:
    results: list[ScoredDocument]
    total_tokens: int
    truncated: list[tuple[int, int]] = field(default_factory=list)  # (document index, the pair's tokens kept)


@dataclass
class PairScores:
    """Scores of (text_1, text_2) pairs in input order (vLLM's /score)."""

    scores: list[float]
    total_tokens: int
    truncated: list[tuple[int, int]] = field(default_factory=list)  # (pair index, the pair's tokens kept)


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
