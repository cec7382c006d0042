"""The plugin's one HTTP client: endpoint discovery, retries, timeouts and the HTTP status -> Dify error table.

Both model classes (``models/text_embedding``, ``models/rerank``) and the provider call this package and nothing
else talks to the network. It speaks four dialects to a server:

* ``openai`` — ``/v1/embeddings`` and Jina/Cohere ``/v1/rerank`` (this project's server, Infinity, Xinference, …)
* ``tei``    — ``/embed`` ``{"inputs"}`` and ``/rerank`` ``{"query","texts"}`` (HuggingFace TEI)
* ``vllm``   — ``/v1/embeddings`` and ``/rerank`` at the server root, or ``/score``
* ``auto``   — tries the OpenAI/Jina paths first, then TEI's and vLLM's, and recognises TEI by its answers.

Whatever worked is remembered for the life of the plugin process, so later calls go straight to it.

The package, by job: ``config`` (settings from Dify's credentials), ``transport`` (connection pool, retries,
redirects), ``addresses`` (link-local and metadata addresses refused), ``kinds`` (the error kinds), ``errors``
(status table, messages), ``wire`` (bodies and parsers per wire format), ``tokens`` (local
token estimate), ``dify`` (schema and validation glue for the model classes); this module ties them together.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
from dify_plugin.config.logger_format import plugin_logger_handler
from dify_plugin.errors.model import InvokeBadRequestError, InvokeError

from provider import endpoints as ep
from provider.client import errors, transport, wire
from provider.client.config import DEFAULT_BATCH, Settings
from provider.client.errors import TASK_WORDS
from provider.client.kinds import BAD_REQUEST, TOO_LARGE, error_kind, tagged
from provider.client.tokens import estimate_tokens

__all__ = ["BgeClient"]

TOKENIZE_TIMEOUT = 10.0
TOKENIZE_RETRY_AFTER = 300.0  # seconds before asking a server without /tokenize again

logger = logging.getLogger("bge_local")
logger.setLevel(logging.INFO)
if plugin_logger_handler not in logger.handlers:
    logger.addHandler(plugin_logger_handler)
logger.propagate = False

# What each server answered on, for the life of the plugin process.
_lock = threading.Lock()
_remembered: dict[tuple, ep.Endpoint] = {}
_no_tokenize_until: dict[tuple, float] = {}


class _Miss(Exception):
    """This endpoint is not the one: try the next."""


class BgeClient:
    def __init__(self, settings: Settings, task: str):
        self.s = settings
        self.task = task

    @classmethod
    def for_model(cls, model: str, credentials: Mapping[str, Any], task: str) -> BgeClient:
        return cls(Settings.from_credentials(credentials, model, task), task)

    def _send(self, url: str, body: Any, *, retries: int | None = None, timeout: float | None = None) -> httpx.Response:
        try:
            return transport.send(
                "POST",
                url,
                body,
                api_key=self.s.api_key,
                retries=self.s.retries if retries is None else retries,
                timeout=self.s.timeout if timeout is None else timeout,
            )
        except transport.TimedOut as e:
            raise errors.timed_out(e.url, e.timeout) from None
        except transport.Unreachable as e:
            raise errors.unreachable(self.s.url, e.url, e.reason) from None
        except transport.Refused as e:
            raise errors.refused(self.s.url, e.reason, e.redirect) from None

    # -- discovery --------------------------------------------------------------------------------------------

    def _memory_key(self) -> tuple:
        u = self.s.url
        return (u.origin, u.typed_path, u.hint_path, self.task, self.s.dialect)

    def _discover(self, body_for: Callable[[str], Any], parse: Callable[[str, Any], Any]) -> Any:
        key = self._memory_key()
        cands = ep.candidates(self.s.url, self.task, self.s.dialect)
        known = _remembered.get(key)
        if known is not None:
            cands = [known] + [c for c in cands if c.url != known.url]
        tried: list[str] = []
        for cand in cands:
            try:
                value, used = self._attempt(cand, body_for, parse)
            except _Miss as miss:
                tried.append(f"{cand.url} ({miss})")
                if known is not None and cand.url == known.url:
                    with _lock:
                        _remembered.pop(key, None)
                continue
            if _remembered.get(key) != used:
                with _lock:
                    _remembered[key] = used
                logger.info("bge_local: %s requests go to %s (%s)", TASK_WORDS[self.task], used.url, used.wire)
            return value
        raise errors.not_found(self.s, self.task, tried)

    def _attempt(
        self, cand: ep.Endpoint, body_for: Callable[[str], Any], parse: Callable[[str, Any], Any]
    ) -> tuple[Any, ep.Endpoint]:
        resp = self._send(cand.url, body_for(cand.wire))
        status = resp.status_code
        if status in (404, 405):
            if status == 404 and errors.is_model_404(resp):
                raise errors.status_error(self.s, self.task, resp, cand.url)
            raise _Miss(f"HTTP {status}")
        if cand.wire == ep.JINA_RERANK and status in (400, 422) and self.s.dialect != "openai" and "texts" in resp.text:
            # TEI's /rerank wants "texts": say it its way.
            return self._attempt(ep.Endpoint(cand.url, ep.TEI_RERANK), body_for, parse)
        if 200 <= status < 300:
            try:
                data = resp.json()
            except ValueError:
                raise _Miss("answered, but not with JSON") from None
            try:
                return parse(cand.wire, data), cand
            except wire.Shape as e:
                raise _Miss(f"answered, but not like a {TASK_WORDS[self.task]} API: {e}") from None
        raise errors.status_error(self.s, self.task, resp, cand.url)

    # -- embeddings -------------------------------------------------------------------------------------------

    def embed(self, texts: Sequence[str], batch_size: int) -> tuple[list[list[float]], int]:
        """Vectors in input order and the number of tokens used."""
        size = max(1, self.s.batch_size or batch_size or DEFAULT_BATCH)
        vectors: list[list[float]] = []
        tokens = 0
        for start in range(0, len(texts), size):
            batch_vectors, batch_tokens = self._embed_batch(list(texts[start : start + size]))
            vectors.extend(batch_vectors)
            tokens += batch_tokens
        return vectors, tokens

    def _embed_batch(self, texts: list[str]) -> tuple[list[list[float]], int]:
        try:
            vectors, tokens = self._discover(
                lambda w: wire.embedding_body(w, texts, self.s.served_model),
                lambda w, data: wire.parse_embeddings(w, data, len(texts)),
            )
        except InvokeBadRequestError as e:
            if error_kind(e) == TOO_LARGE and len(texts) > 1:  # the server's batch limit is lower: split
                half = len(texts) // 2
                v1, t1 = self._embed_batch(texts[:half])
                v2, t2 = self._embed_batch(texts[half:])
                return v1 + v2, t1 + t2
            raise
        if tokens is None:
            tokens = sum(estimate_tokens(t) for t in texts)
        return vectors, tokens

    # -- rerank -----------------------------------------------------------------------------------------------

    def rerank(self, query: str, docs: Sequence[str], top_n: int | None) -> list[tuple[int, float]]:
        """(index, score) for the best ``top_n`` documents, best first; scores in 0..1."""
        if not docs:
            return []
        n = len(docs)
        top = n if top_n is None or top_n <= 0 else min(top_n, n)
        size = max(1, self.s.batch_size or n)
        scored: list[tuple[int, float]] = []
        for start in range(0, n, size):
            chunk = list(docs[start : start + size])
            want = top if size >= n else len(chunk)
            results = self._discover(
                lambda w, chunk=chunk, want=want: wire.rerank_body(w, query, chunk, self.s.served_model, want),
                lambda w, data, k=len(chunk): wire.parse_scores(w, data, k),
            )
            scored.extend((start + i, s) for i, s in results)
        scored = wire.unit_scores(scored)
        scored.sort(key=lambda r: (-r[1], r[0]))
        return scored[:top]

    # -- tokens -----------------------------------------------------------------------------------------------

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Token counts from the server's /tokenize, or a local estimate; never fails, never downloads."""
        if not texts:
            return []
        key = (self.s.url.origin, self.s.url.base_path, self.s.api_key)
        if _no_tokenize_until.get(key, 0.0) > time.monotonic():
            return [estimate_tokens(t) for t in texts]
        size = max(1, min(self.s.batch_size or DEFAULT_BATCH, DEFAULT_BATCH))
        timeout = min(self.s.timeout, TOKENIZE_TIMEOUT)
        counts: list[int] = []
        try:
            url = ep.tokenize_candidates(self.s.url)[0].url
            if self.s.dialect == "vllm":
                for text in texts:
                    counts.extend(self._tokenize(url, {"model": self.s.served_model, "prompt": text}, 1, timeout))
            else:
                for start in range(0, len(texts), size):
                    chunk = list(texts[start : start + size])
                    counts.extend(self._tokenize(url, {"inputs": chunk}, len(chunk), timeout))
        except (InvokeError, wire.Shape) as e:
            with _lock:
                _no_tokenize_until[key] = time.monotonic() + TOKENIZE_RETRY_AFTER
            logger.info("bge_local: no usable /tokenize at %s (%s); estimating tokens locally", self.s.url.base, e)
            return [estimate_tokens(t) for t in texts]
        return counts

    def _tokenize(self, url: str, body: dict, n: int, timeout: float) -> list[int]:
        resp = self._send(url, body, retries=0, timeout=timeout)
        if not 200 <= resp.status_code < 300:
            raise wire.Shape(f"HTTP {resp.status_code}")
        try:
            data = resp.json()
        except ValueError:
            raise wire.Shape("not JSON") from None
        return wire.parse_token_counts(data, n)

    # -- validation -------------------------------------------------------------------------------------------

    def check(self) -> None:
        """One real call, as Dify's users will make it."""
        if self.task == ep.EMBEDDINGS:
            vectors, _ = self.embed(["bge-local connection check"], 1)
            if not vectors or not vectors[0]:
                raise tagged(InvokeBadRequestError, BAD_REQUEST, "The server returned an empty embedding.")
        else:
            self.rerank("What is bge-m3?", ["bge-m3 is an embedding model.", "Paris is in France."], 2)
