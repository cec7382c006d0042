"""The inference core: the one place that tokenizes, truncates, counts usage, batches, scores and ranks.

Every client dialect (OpenAI, TEI, Jina/Cohere, vLLM, the seed guide's ``/embed``) translates its body
into one call here and translates the neutral result back; no route computes anything itself.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from local_server.engine import hybrid
from local_server.engine.devices import MemoryReadings
from local_server.engine.errors import InvalidInput, NotReady, TooLarge
from local_server.engine.loading import load_local
from local_server.engine.registry import ModelRegistry, with_shared
from local_server.engine.types import (
    EMBEDDING,
    RERANKER,
    EmbedNeeds,
    EmbedResult,
    PairScores,
    RerankResult,
    ScoredDocument,
    ServedModel,
    Tokenized,
)

if TYPE_CHECKING:  # the engine takes any object with these settings; config imports nothing of it
    from local_server.config import Settings

log = logging.getLogger("bge_local.core")


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


# What loads a core's models: the local loader (``loading.load_local``) or another (``scale/``'s Ray deployments);
# it returns the served models and the devices of this machine they run on.
Loader = Callable[["Settings"], tuple[list[ServedModel], list[str]]]


class InferenceCore:
    def __init__(self, settings: Settings, loader: Loader | None = None):
        self.settings = settings
        self.models = ModelRegistry()
        self.ready = False
        self.load_error: str | None = None
        self._loader = loader
        self._gpu = MemoryReadings([])

    # ---- loading ---------------------------------------------------------------------------------
    def load(self) -> None:
        """Load every configured model (blocking; the app runs this off the event loop at start-up)."""
        models, devices = (self._loader or load_local)(self.settings)
        for model in with_shared(models, self.settings):  # + the hybrid: a view of the embedder, never loaded
            self.models.add(model)
        self._gpu = MemoryReadings(devices)
        self._gpu.refresh()
        self.ready = True

    def close(self) -> None:
        for model in self.models.loaded():
            model.batcher.close()

    def gpu_memory(self) -> list[dict[str, Any]]:
        """The memory of the GPUs this process serves on (a reading at most a few seconds old; never blocks)."""
        return self._gpu.latest()

    # ---- model selection ---------------------------------------------------------------------------
    def served_models(self) -> list[ServedModel]:
        return self.models.served()

    @property
    def embedder(self) -> ServedModel | None:
        return self.models.of_kind(EMBEDDING)

    @property
    def reranker(self) -> ServedModel | None:
        return self.models.of_kind(RERANKER)

    def _check_ready(self) -> None:
        if not self.ready:
            raise NotReady(self.load_error or "models are still loading; retry in a few seconds", retry_after_s=5)

    def model_for(self, kind: str, requested: str | None) -> ServedModel:
        """The model a request names, matched leniently; unknown names fall back to the route's model."""
        self._check_ready()
        return self.models.lookup(requested, kind, strict=self.settings.strict_model_names)

    def rerank_model(self, requested: str | None) -> ServedModel:
        """The model a rerank route runs: the hybrid (kind ``HYBRID``) for its names and the embedder's, else the
        reranker (``ModelRegistry.for_rerank``); the route then calls ``hybrid_rerank`` or ``rerank`` by kind."""
        self._check_ready()
        return self.models.for_rerank(requested, strict=self.settings.strict_model_names,
                                      hybrid_names=list(self.settings.hybrid_names))

    def model_named(self, requested: str | None) -> ServedModel:
        """The served model a bare name means, whatever its kind (Xinference's and Ollama's look-ups by name)."""
        self._check_ready()
        return self.models.lookup(requested, strict=self.settings.strict_model_names)

    def any_model(self) -> ServedModel:
        """The first served model (the embedder, else the reranker): for routes that only need a tokenizer."""
        self._check_ready()
        served = self.served_models()
        return served[0] if served else self.model_for(EMBEDDING, None)

    def scoped(self, registry: ModelRegistry) -> InferenceCore:
        """This core with ``registry`` in place of its models (a per-model base URL's view, for one request)."""
        view = copy.copy(self)
        view.models = registry
        return view

    # ---- request limits ----------------------------------------------------------------------------
    def check_count(self, count: int, what: str, limit: int, setting: str) -> None:
        if count == 0:
            raise InvalidInput(f"{what} must not be empty")
        if count > limit:
            raise TooLarge(
                f"{count} {what} in one request is more than this server allows ({limit}); "
                f"send them in several requests or raise --{setting.replace('_', '-')}",
                code="too_many_inputs",
            )

    def _limit(self, model: ServedModel, max_length: int | None) -> int:
        if max_length is None:
            return model.max_length
        if max_length < 2:
            raise InvalidInput("max_length must be at least 2")
        return min(max_length, model.max_length)

    # ---- tokenization ------------------------------------------------------------------------------
    def _tokenize_limit(self, model: ServedModel, truncate: bool) -> int:
        """Tokens per input /tokenize answers: the model's max length, or with ``truncate: false`` the ceiling."""
        return model.max_length if truncate else self.settings.max_tokenize_tokens

    async def tokenize(self, model: ServedModel, texts: list[str], *, special: bool = True,
                       offsets: bool = False, truncate: bool = True) -> Tokenized:
        """Token ids of each text, cut at the model's max length (at ``--max-tokenize-tokens`` when not
        ``truncate``); with ``offsets`` each token's text, span and kind. 413 beyond ``--max-tokenize-tokens``
        in all."""
        self.check_count(len(texts), "inputs", self.settings.max_client_batch_size, "max_client_batch_size")
        return await asyncio.to_thread(model.tokenizer.tokenize, texts, special=special, offsets=offsets,
                                       max_length=self._tokenize_limit(model, truncate),
                                       budget=self.settings.max_tokenize_tokens)

    async def token_pieces(self, model: ServedModel, text: str, *, truncate: bool = True,
                           ) -> tuple[list[int], list[str]]:
        """The ids of ``text`` without special tokens (at most the model's max length, or the ceiling when not
        ``truncate``), and for each the piece of ``text`` from its start to the next token's start: the pieces
        join back into ``text`` exactly (Cohere's ``token_strings``, which clients re-join into the text they
        embed)."""
        return await asyncio.to_thread(model.tokenizer.pieces, text, self._tokenize_limit(model, truncate))

    async def detokenize(self, model: ServedModel, ids: Sequence[int]) -> str:
        """The text of token ids (special tokens included when given), decoded off the event loop."""
        self.check_count(len(ids), "token ids", self.settings.max_tokenize_tokens, "max_tokenize_tokens")
        return await asyncio.to_thread(self._detokenize, model, ids)

    def _detokenize(self, model: ServedModel, ids: Sequence[int]) -> str:
        size = model.tokenizer.vocab_size
        bad = [i for i in ids if not 0 <= int(i) < size]
        if bad:
            raise InvalidInput(f"token id {bad[0]} is not in {model.name}'s vocabulary (0..{size - 1})")
        return model.tokenizer.decode(ids)

    # ---- embeddings --------------------------------------------------------------------------------
    def check_dimensions(self, model: ServedModel, dimensions: int | None) -> int | None:
        """The width to cut dense vectors to, or None to keep them whole; refuses what bge-m3 can't give."""
        width = model.dimension or 0
        if dimensions is None or dimensions == width:
            return None
        allowed = self.settings.allow_dimension_truncation
        if allowed and 0 < dimensions < width:
            return dimensions
        raise InvalidInput(
            f"dimensions={dimensions} is not available: bge-m3 is a fixed-width {width}-d model (it was not "
            f"trained for shorter, Matryoshka-style vectors). Remove 'dimensions' from the request or set it to "
            f"{width}." + ("" if allowed else " (A server operator can allow truncate-and-renormalise with "
                           "--allow-dimension-truncation.)"),
            code="unsupported_dimensions",
        )

    async def embed(self, model: ServedModel, texts: list[str], needs: EmbedNeeds, *, truncate: bool = True,
                    max_length: int | None = None, dimensions: int | None = None,
                    sparse_tokens: bool = False, drop: str = "end") -> EmbedResult:
        """Embed ``texts``; ``dimensions`` cuts and re-normalises dense vectors (when allowed),
        ``sparse_tokens`` adds the sparse weights keyed by token string, ``drop`` says which end of a too-long
        input truncation removes ("start": Cohere's truncate=START)."""
        if not (needs.dense or needs.sparse or needs.colbert):
            raise InvalidInput("nothing to return: dense, sparse and ColBERT outputs are all turned off")
        self.check_count(len(texts), "inputs", self.settings.max_client_batch_size, "max_client_batch_size")
        cut = self.check_dimensions(model, dimensions) if needs.dense else None
        limit = self._limit(model, max_length)
        ids = await asyncio.to_thread(model.tokenizer.encode, texts, max_length=limit, truncate=truncate,
                                      keep="end" if drop == "start" else "start")
        vectors = await model.batcher.run(ids, needs)
        if cut:
            for vec in vectors:
                dense = vec.dense[:cut]
                vec.dense = dense / max(float(np.linalg.norm(dense)), 1e-12)
        by_token = None
        if sparse_tokens and needs.sparse:
            by_token = await asyncio.to_thread(  # one decode per token: off the event loop
                lambda: [model.tokenizer.token_strings(list(v.sparse)) for v in vectors])
        return EmbedResult(vectors=vectors, token_counts=[len(x) for x in ids], sparse_tokens=by_token)

    # ---- reranking ---------------------------------------------------------------------------------
    async def _logits(self, model: ServedModel, pairs: list[tuple[str, str]], *, truncate: bool,
                      max_length: int | None) -> tuple[list[float], int]:
        """Raw relevance logits of each (query, document) pair, and the pairs' total token count."""
        self.check_count(len(pairs), "documents", self.settings.max_rerank_documents, "max_rerank_documents")
        limit = self._limit(model, max_length)
        ids = await asyncio.to_thread(model.tokenizer.encode_pairs, pairs, max_length=limit, truncate=truncate)
        logits = await model.batcher.run(ids, None)
        return logits, sum(len(p) for p in ids)

    async def rerank(self, model: ServedModel, query: str, documents: list[str], *, top_n: int | None = None,
                     raw_scores: bool = False, truncate: bool = True, max_length: int | None = None,
                     ) -> RerankResult:
        """Documents ranked best first; scores are sigmoid(logit) in 0..1 unless ``raw_scores``.
        ``top_n`` None or 0 means all documents; larger values are clamped."""
        if top_n is not None and top_n < 0:
            raise InvalidInput(f"top_n must be 0 (all documents) or a positive number, not {top_n}")
        logits, tokens = await self._logits(model, [(query, d) for d in documents], truncate=truncate,
                                            max_length=max_length)
        scores = logits if raw_scores else [sigmoid(x) for x in logits]
        ranked = sorted((ScoredDocument(i, s) for i, s in enumerate(scores)), key=lambda d: -d.score)
        if top_n:
            ranked = ranked[:top_n]
        return RerankResult(results=ranked, total_tokens=tokens)

    async def score(self, model: ServedModel, first: list[str], second: list[str], *,
                    max_length: int | None = None) -> PairScores:
        """vLLM's pairing: one ``first`` text against each ``second`` text, or ``first[i]`` with ``second[i]``;
        scores in 0..1, in input order."""
        if len(first) == 1:
            pairs = [(first[0], t) for t in second]
        elif len(first) == len(second):
            pairs = list(zip(first, second, strict=True))
        else:
            raise InvalidInput(f"text_1 has {len(first)} texts and text_2 has {len(second)}: give one text_1, "
                               "or as many as text_2")
        logits, tokens = await self._logits(model, pairs, truncate=True, max_length=max_length)
        return PairScores(scores=[sigmoid(x) for x in logits], total_tokens=tokens)


    # ---- bge-m3's hybrid score (engine/hybrid.py) -------------------------------------------------------
    def hybrid_weights(self, requested: Any = None) -> hybrid.Weights:
        """A request's ``hybrid_weights``, or the server's (``--hybrid-weights``) when it sends none."""
        if requested is None:
            return hybrid.parse_weights(list(self.settings.hybrid_weights), "--hybrid-weights")
        return hybrid.parse_weights(requested)

    def hybrid_query_limit(self, model: ServedModel) -> int:
        """Tokens the hybrid keeps of a query: ``--hybrid-query-max-length``, within the embedder's limit (the
        hybrid's own ``max_length`` is the documents' limit)."""
        embedder = self.models.backing(EMBEDDING) or model
        return min(self.settings.hybrid_query_max_length, embedder.max_length)

    async def _hybrid(self, model: ServedModel, queries: list[str], passages: list[str],
                      pairs: list[tuple[int, int]], weights: hybrid.Weights, truncate: bool,
                      ) -> tuple[list[hybrid.Components], int]:
        """Each pair's scores: ``queries`` cut at ``--hybrid-query-max-length`` tokens and ``passages`` at the
        hybrid's limit (FlagEmbedding's 512 and 512), all embedded in ONE call (dense + sparse + ColBERT)."""
        query_limit = self.hybrid_query_limit(model)
        encode = model.tokenizer.encode
        q_ids = await asyncio.to_thread(encode, queries, max_length=query_limit, truncate=truncate)
        p_ids = await asyncio.to_thread(encode, passages, max_length=model.max_length, truncate=truncate)
        vectors = await model.batcher.run(q_ids + p_ids, EmbedNeeds(dense=True, sparse=True, colbert=True))
        scored = await asyncio.to_thread(hybrid.score_pairs, vectors[:len(q_ids)], vectors[len(q_ids):], pairs,
                                         weights)
        return scored, sum(map(len, q_ids)) + sum(map(len, p_ids))

    async def hybrid_rerank(self, model: ServedModel, query: str, documents: list[str], *,
                            weights: Any = None, top_n: int | None = None, raw_scores: bool = False,
                            truncate: bool = True, components: bool = False, cascade_k: int | None = None,
                            ) -> RerankResult:
        """Documents ranked best first by bge-m3's hybrid score (FlagEmbedding's ``compute_score``: the weighted
        sum of the dense, sparse and ColBERT scores), clipped to 0..1 unless ``raw_scores``; ``components`` adds
        each part. ``cascade_k``: the hybrid shortlists that many, then the cross-encoder reranks them (its
        sigmoid scores, or logits with ``raw_scores``): one bge-m3 pass over query + documents, then k pairs."""
        if top_n is not None and top_n < 0:
            raise InvalidInput(f"top_n must be 0 (all documents) or a positive number, not {top_n}")
        self.check_count(len(documents), "documents", self.settings.max_rerank_documents, "max_rerank_documents")
        parsed = self.hybrid_weights(weights)
        reranker = self._cascade_reranker(cascade_k)
        scored, tokens = await self._hybrid(model, [query], documents, [(0, i) for i in range(len(documents))],
                                            parsed, truncate)
        ranked = sorted(range(len(documents)), key=lambda i: -scored[i].weighted)
        if reranker is None:
            scores = [c.weighted if raw_scores else hybrid.clip(c.weighted) for c in scored]
        else:
            ranked = ranked[:cascade_k]
            logits, pair_tokens = await self._logits(reranker, [(query, documents[i]) for i in ranked],
                                                     truncate=truncate, max_length=None)
            tokens += pair_tokens
            scores = [0.0] * len(documents)
            for i, logit in zip(ranked, logits, strict=True):
                scores[i] = logit if raw_scores else sigmoid(logit)
            ranked = sorted(ranked, key=lambda i: -scores[i])
        results = [ScoredDocument(i, scores[i], scored[i].as_dict() if components else None) for i in ranked]
        return RerankResult(results=results[:top_n] if top_n else results, total_tokens=tokens)

    def _cascade_reranker(self, cascade_k: int | None) -> ServedModel | None:
        if cascade_k is None:
            return None
        if cascade_k < 1:
            raise InvalidInput(f"cascade_k must be a positive number of documents, not {cascade_k}")
        reranker = self.models.backing(RERANKER)
        if reranker is None:
            raise InvalidInput("cascade_k needs the cross-encoder reranker (bge-reranker-v2-m3), which this server "
                               "does not run; start it with --reranker-model, or leave cascade_k out for the hybrid "
                               "score alone", code="reranker_not_served")
        return reranker

    async def hybrid_score(self, model: ServedModel, first: list[str], second: list[str], *,
                           weights: Any = None) -> PairScores:
        """vLLM's /score pairing (one ``first`` against each ``second``, or pair by pair) by the hybrid score,
        clipped to 0..1, in input order."""
        if len(first) != 1 and len(first) != len(second):
            raise InvalidInput(f"text_1 has {len(first)} texts and text_2 has {len(second)}: give one text_1, "
                               "or as many as text_2")
        self.check_count(len(second), "documents", self.settings.max_rerank_documents, "max_rerank_documents")
        pairs = [(0 if len(first) == 1 else i, i) for i in range(len(second))]
        scored, tokens = await self._hybrid(model, first, second, pairs, self.hybrid_weights(weights), True)
        return PairScores(scores=[hybrid.clip(c.weighted) for c in scored], total_tokens=tokens)


QUANTIZED_TYPES = ("int8", "uint8", "binary", "ubinary")


def quantize(vectors: np.ndarray, kind: str) -> np.ndarray:
    """Float vectors ``(n, dim)`` in Cohere's compact embedding types.

    int8: each vector scaled so that its largest component is ±127, then rounded (the direction, hence cosine
    similarity, is kept); uint8: int8 + 128. ubinary: one bit per dimension, 1 where the value is positive,
    8 dimensions per byte, first dimension in the most significant bit; binary: those bytes minus 128.
    """
    if kind in ("int8", "uint8"):
        scale = np.maximum(np.abs(vectors).max(axis=1, keepdims=True), 1e-12)
        q = np.clip(np.rint(vectors / scale * 127), -128, 127).astype(np.int16)
        return q if kind == "int8" else q + 128
    if kind in ("binary", "ubinary"):
        bits = np.packbits(vectors > 0, axis=1).astype(np.int16)
        return bits if kind == "ubinary" else bits - 128
    raise InvalidInput(f"unknown embedding type {kind!r}")

