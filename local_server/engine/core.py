"""The inference core: the one place that tokenizes, truncates, counts usage, batches and ranks.

Every client dialect (OpenAI, TEI, Jina/Cohere, vLLM, the seed guide's ``/embed``) translates its body
into a call here and translates the neutral result back; no route computes anything itself.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_server.engine import names
from local_server.engine.batcher import Batcher
from local_server.engine.runtime import EmbeddingVectors, EmbedNeeds, M3Runtime, RerankerRuntime, Runtime
from local_server.errors import BadRequest, ModelNotReady, NotFound, PayloadTooLarge
from local_server.settings import Settings

log = logging.getLogger("bge_local.core")

EMBEDDING = "embedding"
RERANKER = "reranker"

# Tokenizing a 10 MB string to keep its first 8192 tokens wastes seconds: when truncating, cut the text
# far beyond the point where the token limit falls (a token always covers at least one character).
_CHARS_PER_TOKEN_BOUND = 12

# On a CPU every padded token costs as much as a real one and a bigger batch buys almost nothing, so a batch
# takes only inputs of nearly the same length (at most 10% padding; measured by bench/run.py: 0.20 instead of
# 0.26-0.80 CPU-seconds per 1k tokens on mixed lengths). A GPU keeps the token budget alone, where padding
# mostly fills idle compute.
_CPU_MAX_PADDING = 0.1


@dataclass
class ServedModel:
    kind: str
    names: list[str]  # canonical name first
    path: str
    max_length: int
    batcher: Batcher
    tokenizer: Any
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
    model: str

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
    model: str
    pair_tokens: list[int] = field(default_factory=list)


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


class ModelLoadError(RuntimeError):
    """A model that cannot be found, fetched or loaded; the message says what to do."""


def resolve_devices(device: str | None) -> list[str]:
    import torch

    if device is None or device in {"", "auto"}:
        return ["cuda:0"] if torch.cuda.is_available() else ["cpu"]
    devices = [d.strip() for d in device.split(",") if d.strip()]
    resolved = []
    for d in devices:
        if d == "cuda":
            d = "cuda:0"
        if d.isdigit():
            d = f"cuda:{d}"
        if d.startswith("cuda") and not torch.cuda.is_available():
            raise ModelLoadError(f"--device {device} asks for CUDA but torch sees no GPU "
                                 "(is this a CPU build of torch, or is CUDA_VISIBLE_DEVICES empty?)")
        resolved.append(d)
    return resolved


def resolve_model_path(name_or_path: str, cache_dir: str | None) -> str:
    """A local directory is used as is; anything else is a hub id fetched once through huggingface_hub.

    Only the files inference needs are fetched (the same selection as ``bge-local download``: one copy of the
    weights, no ONNX export). huggingface_hub honours ``HF_ENDPOINT`` (mirrors such as https://hf-mirror.com)
    and ``HF_HUB_OFFLINE`` (then only its cache is used).
    """
    expanded = os.path.expanduser(name_or_path)
    if Path(expanded).is_dir():
        return expanded
    if name_or_path.startswith((".", "/", "~")):
        raise ModelLoadError(f"model directory {name_or_path} does not exist")
    from huggingface_hub import constants, list_repo_files, snapshot_download

    from local_server.download import fallback_patterns, select_files

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    log.info("fetching %s from %s (set HF_ENDPOINT for a mirror, or use `bge-local download`)", name_or_path,
             endpoint)
    try:
        patterns = fallback_patterns() if constants.HF_HUB_OFFLINE else select_files(list_repo_files(name_or_path))
        return snapshot_download(repo_id=name_or_path, cache_dir=cache_dir, allow_patterns=patterns)
    except Exception as exc:
        raise ModelLoadError(
            f"could not fetch {name_or_path} from {endpoint} ({type(exc).__name__}: {exc}). Where huggingface.co "
            "is out of reach set HF_ENDPOINT=https://hf-mirror.com, or fetch the models with `bge-local download` "
            "(Hugging Face or ModelScope) and pass their directories"
        ) from exc


class InferenceCore:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.embedder: ServedModel | None = None
        self.reranker: ServedModel | None = None
        self.ready = False
        self.load_error: str | None = None

    # ---- loading ---------------------------------------------------------------------------------
    def load(self) -> None:
        """Load every configured model (blocking; the app runs this off the event loop at start-up)."""
        s = self.settings
        devices = resolve_devices(s.device)
        if s.embedding_model:
            self.embedder = self._load(EMBEDDING, s.embedding_model, M3Runtime, devices, s.embedding_names,
                                       EmbedNeeds.union)
        if s.reranker_model:
            self.reranker = self._load(RERANKER, s.reranker_model, RerankerRuntime, devices, s.reranker_names,
                                       lambda a, b: a)
        self.ready = True

    def _load(self, kind, source, runtime_cls, devices, aliases, merge) -> ServedModel:
        s = self.settings
        path = resolve_model_path(source, s.cache_dir)
        replicas: list[Runtime] = [runtime_cls(path, device, s.dtype) for device in devices]
        first = replicas[0]
        # XLM-R reserves two positions (the padding offset): 8194 positions hold 8192 tokens.
        max_length = min(s.max_length, first.max_positions - 2)
        canonical = Path(source.rstrip("/")).name
        served = [canonical, *aliases]
        if source != canonical:
            served.append(source)
        batcher = Batcher(
            kind,
            replicas,
            max_batch_tokens=max(s.max_batch_tokens, max_length),
            max_batch_size=s.max_batch_size,
            wait_s=s.batch_wait_ms / 1000.0,
            max_queue=s.max_queue_inputs,
            merge_needs=merge,
            max_padding=self._max_padding(devices),
            fault_oom_above_tokens=int(os.environ.get("BGE_LOCAL_FAULT_OOM_ABOVE_TOKENS", "0") or 0),
        )
        dtype = str(first.dtype).replace("torch.", "")
        log.info("loaded %s %s from %s on %s (%s), max length %d", kind, canonical, path, ", ".join(devices),
                 dtype, max_length)
        return ServedModel(
            kind=kind, names=served, path=path, max_length=max_length, batcher=batcher,
            tokenizer=first.tokenizer, devices=devices, dtype=dtype,
            dimension=getattr(first, "hidden_size", None),
        )

    def _max_padding(self, devices: list[str]) -> float:
        if self.settings.max_padding >= 0:
            return min(self.settings.max_padding, 1.0)
        return _CPU_MAX_PADDING if all(d.startswith("cpu") for d in devices) else 1.0

    def close(self) -> None:
        for model in (self.embedder, self.reranker):
            if model is not None:
                model.batcher.close()

    # ---- model selection ---------------------------------------------------------------------------
    def served_models(self) -> list[ServedModel]:
        return [m for m in (self.embedder, self.reranker) if m is not None]

    def model_for(self, kind: str, requested: str | None) -> ServedModel:
        """The model a request names, matched leniently; unknown names fall back to the route's model."""
        if not self.ready:
            raise ModelNotReady(self.load_error or "models are still loading; retry in a few seconds",
                                headers={"Retry-After": "5"})
        model = self.embedder if kind == EMBEDDING else self.reranker
        if model is None:
            other = self.reranker if kind == EMBEDDING else self.embedder
            hint = f"; it serves the {other.kind} model {other.name!r}" if other else ""
            wanted, option = ("embedding model", "--embedding-model") if kind == EMBEDDING else ("reranker",
                                                                                              "--reranker-model")
            raise NotFound(f"this server runs no {wanted}{hint}. Send these requests to a server started with "
                           f"{option}", code="model_not_found")
        if requested and self.settings.strict_model_names and not names.matches(requested, model.names):
            raise NotFound(f"model {requested!r} is not served here; served {kind}: {', '.join(model.names)}",
                           code="model_not_found")
        return model

    # ---- request limits ----------------------------------------------------------------------------
    def check_count(self, count: int, what: str, limit: int, setting: str) -> None:
        if count == 0:
            raise BadRequest(f"{what} must not be empty")
        if count > limit:
            raise PayloadTooLarge(
                f"{count} {what} in one request is more than this server allows ({limit}); "
                f"send them in several requests or raise --{setting.replace('_', '-')}",
                code="too_many_inputs",
            )

    # ---- tokenization ------------------------------------------------------------------------------
    def _encode(self, model: ServedModel, texts: Sequence[str], *, max_length: int, truncate: bool,
                special: bool = True) -> list[list[int]]:
        if truncate:
            limit = max_length * _CHARS_PER_TOKEN_BOUND
            texts = [t[:limit] for t in texts]
        encoded = model.tokenizer(
            list(texts), add_special_tokens=special, truncation=truncate,
            max_length=max_length if truncate else None,
        )["input_ids"]
        if not truncate:
            for i, ids in enumerate(encoded):
                if len(ids) > max_length:
                    raise PayloadTooLarge(
                        f"input {i} has {len(ids)} tokens, more than the limit of {max_length}; "
                        "shorten it or let the server truncate (truncate: true)",
                        code="input_too_long",
                    )
        return encoded

    def _limit(self, model: ServedModel, max_length: int | None) -> int:
        if max_length is None:
            return model.max_length
        if max_length < 2:
            raise BadRequest("max_length must be at least 2")
        return min(max_length, model.max_length)

    async def tokenize(self, model: ServedModel, texts: list[str], *, special: bool = True,
                       offsets: bool = False) -> Any:
        """The tokenizer's encoding of ``texts`` (``input_ids``, and ``offset_mapping`` when asked)."""
        self.check_count(len(texts), "inputs", self.settings.max_client_batch_size, "max_client_batch_size")
        return await asyncio.to_thread(model.tokenizer, texts, add_special_tokens=special,
                                       return_offsets_mapping=offsets)

    def token_strings(self, model: ServedModel, ids: Sequence[int]) -> list[str]:
        return [model.tokenizer.decode([int(i)]) for i in ids]

    # ---- the two tasks -----------------------------------------------------------------------------
    async def embed(self, model: ServedModel, texts: list[str], needs: EmbedNeeds, *, truncate: bool = True,
                    max_length: int | None = None) -> EmbedResult:
        self.check_count(len(texts), "inputs", self.settings.max_client_batch_size, "max_client_batch_size")
        limit = self._limit(model, max_length)
        ids = await asyncio.to_thread(self._encode, model, texts, max_length=limit, truncate=truncate)
        vectors = await model.batcher.run(ids, needs)
        return EmbedResult(vectors=vectors, token_counts=[len(x) for x in ids], model=model.name)

    def _pair_ids(self, model: ServedModel, pairs: Sequence[tuple[str, str]], *, max_length: int,
                  truncate: bool) -> list[list[int]]:
        """``<s> query </s></s> document </s>``, the query cut to 3/4 of the limit and the document to the rest
        (FlagReranker's rule), so every query+document pair fits the model. Each distinct query is
        tokenized once."""
        tok = model.tokenizer
        cls_id, sep_id = tok.cls_token_id, tok.sep_token_id
        queries = list(dict.fromkeys(q for q, _ in pairs))
        query_ids = dict(zip(queries, self._encode(model, queries, max_length=max_length * 3 // 4, truncate=True,
                                                   special=False), strict=True))
        doc_ids = self._encode(model, [d for _, d in pairs], max_length=max_length, truncate=truncate,
                               special=False)
        result = []
        for i, ((query, _), d_ids) in enumerate(zip(pairs, doc_ids, strict=True)):
            q_ids = query_ids[query]
            room = max_length - len(q_ids) - 4
            if len(d_ids) > room:
                if not truncate:
                    raise PayloadTooLarge(
                        f"query and document {i} together have {len(q_ids) + len(d_ids) + 4} tokens, more than "
                        f"the limit of {max_length}; shorten them or let the server truncate (truncate: true)",
                        code="input_too_long")
                d_ids = d_ids[:room]
            result.append([cls_id, *q_ids, sep_id, sep_id, *d_ids, sep_id])
        return result

    async def score_pairs(self, model: ServedModel, pairs: list[tuple[str, str]], *, truncate: bool = True,
                          max_length: int | None = None) -> tuple[list[float], list[int]]:
        """Raw relevance logits of each (query, document) pair, and each pair's token count."""
        self.check_count(len(pairs), "documents", self.settings.max_rerank_documents, "max_rerank_documents")
        limit = self._limit(model, max_length)
        ids = await asyncio.to_thread(self._pair_ids, model, pairs, max_length=limit, truncate=truncate)
        logits = await model.batcher.run(ids, None)
        return logits, [len(p) for p in ids]

    async def rerank(self, model: ServedModel, query: str, documents: list[str], *, top_n: int | None = None,
                     raw_scores: bool = False, truncate: bool = True, max_length: int | None = None,
                     ) -> RerankResult:
        logits, counts = await self.score_pairs(model, [(query, d) for d in documents], truncate=truncate,
                                                max_length=max_length)
        scores = logits if raw_scores else [sigmoid(x) for x in logits]
        ranked = sorted((ScoredDocument(i, s) for i, s in enumerate(scores)), key=lambda d: -d.score)
        if top_n is not None and top_n > 0:
            ranked = ranked[:top_n]
        return RerankResult(results=ranked, total_tokens=sum(counts), model=model.name, pair_tokens=counts)

