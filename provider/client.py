"""The plugin's one HTTP client: endpoint discovery, retries, timeouts and the HTTP status -> Dify error table.

Both model classes (``models/text_embedding``, ``models/rerank``) and the provider call this module and nothing
else talks to the network. It speaks four dialects to a server:

* ``openai`` — ``/v1/embeddings`` and Jina/Cohere ``/v1/rerank`` (this project's server, Infinity, Xinference, …)
* ``tei``    — ``/embed`` ``{"inputs"}`` and ``/rerank`` ``{"query","texts"}`` (HuggingFace TEI)
* ``vllm``   — ``/v1/embeddings`` and ``/rerank`` at the server root, or ``/score``
* ``auto``   — tries the OpenAI/Jina paths first, then TEI's and vLLM's, and recognises TEI by its answers.

Whatever worked is remembered for the life of the plugin process, so later calls go straight to it.
"""

from __future__ import annotations

import base64
import logging
import math
import re
import struct
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from dify_plugin.config.logger_format import plugin_logger_handler
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

from provider import endpoints as ep

PLUGIN_VERSION = "0.1.0"

logger = logging.getLogger("bge_local")
logger.setLevel(logging.INFO)
if plugin_logger_handler not in logger.handlers:
    logger.addHandler(plugin_logger_handler)
logger.propagate = False

DEFAULT_TIMEOUT = 120.0
DEFAULT_RETRIES = 2
DEFAULT_BATCH = 32
DEFAULT_CONTEXT = 8192  # bge-m3 and bge-reranker-v2-m3 take 8192 tokens
MAX_BACKOFF = 8.0
TOKENIZE_TIMEOUT = 10.0
TOKENIZE_RETRY_AFTER = 300.0  # seconds before asking a server without /tokenize again

TASK_WORDS = {ep.EMBEDDINGS: "embedding", ep.RERANK: "rerank"}

# ---------------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------------

# Error kinds the validation logic looks at (attached to the Dify error as ``.kind``).
UNREACHABLE = "unreachable"
TIMEOUT = "timeout"
AUTH = "auth"
NOT_FOUND = "not_found"
WRONG_TYPE = "wrong_type"
NO_SUCH_MODEL = "no_such_model"
RATE_LIMIT = "rate_limit"
SERVER = "server"
BAD_REQUEST = "bad_request"
TOO_LARGE = "too_large"
SETTINGS = "settings"


def _error(cls: type[InvokeError], kind: str, message: str) -> InvokeError:
    err = cls(message)
    err.kind = kind  # type: ignore[attr-defined]
    return err


def error_kind(err: BaseException) -> str | None:
    return getattr(err, "kind", None)


# HTTP status -> (Dify error, kind). Anything else 4xx is a bad request, anything else 5xx unavailable.
STATUS_ERRORS: dict[int, tuple[type[InvokeError], str]] = {
    400: (InvokeBadRequestError, BAD_REQUEST),
    401: (InvokeAuthorizationError, AUTH),
    403: (InvokeAuthorizationError, AUTH),
    404: (InvokeBadRequestError, NOT_FOUND),
    408: (InvokeConnectionError, TIMEOUT),
    413: (InvokeBadRequestError, TOO_LARGE),
    422: (InvokeBadRequestError, BAD_REQUEST),
    429: (InvokeRateLimitError, RATE_LIMIT),
    500: (InvokeServerUnavailableError, SERVER),
    502: (InvokeServerUnavailableError, SERVER),
    503: (InvokeServerUnavailableError, SERVER),
    504: (InvokeServerUnavailableError, SERVER),
}
RETRY_STATUSES = frozenset({429, 502, 503, 504})

_WRONG_TYPE_PATTERNS = {
    # the server says it has no embedding model here (TEI, vLLM, this project's server)
    ep.EMBEDDINGS: re.compile(
        r"no (text[- ])?embedding model|not an? (text[- ])?embedding|does not support (the )?embed"
        r"|not support(ed)? [\w /-]*embedding|is an? (re-?ranker|rerank|cross-encoder)",
        re.I,
    ),
    # the server says it has no reranker here
    ep.RERANK: re.compile(
        r"no re-?ranker|no rerank(ing)? model|not an? (re-?ranker|rerank|classifier|cross-encoder)"
        r"|does not support (the )?(rerank|score)|not support(ed)? [\w /-]*(rerank|score)"
        r"|is an? (text[- ])?embedding",
        re.I,
    ),
}
_MODEL_404 = re.compile(r"\bmodel\b", re.I)


# ---------------------------------------------------------------------------------------------------------------
# Settings from Dify credentials
# ---------------------------------------------------------------------------------------------------------------


def _number(credentials: Mapping[str, Any], key: str, default: float, label: str, minimum: float) -> float:
    raw = credentials.get(key)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return default
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise _error(InvokeBadRequestError, SETTINGS, f"{label} must be a number (got {raw!r}).") from None
    if not math.isfinite(value) or value < minimum:
        raise _error(InvokeBadRequestError, SETTINGS, f"{label} must be at least {minimum:g} (got {raw!r}).")
    return value


@dataclass(frozen=True)
class Settings:
    url: ep.ParsedURL
    url_text: str
    api_key: str
    dialect: str
    timeout: float
    retries: int
    batch_size: int | None
    served_model: str

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any], model: str, task: str) -> Settings:
        url_text = str(credentials.get("server_url") or "").strip()
        if task == ep.RERANK and str(credentials.get("rerank_server_url") or "").strip():
            url_text = str(credentials["rerank_server_url"]).strip()
        try:
            url = ep.parse_url(url_text)
        except ep.URLError as e:
            raise _error(InvokeBadRequestError, SETTINGS, str(e)) from None
        dialect = str(credentials.get("api_dialect") or "auto").strip().lower()
        if dialect not in ep.DIALECTS:
            raise _error(
                InvokeBadRequestError,
                SETTINGS,
                f"API dialect must be one of {', '.join(ep.DIALECTS)} (got {dialect!r}).",
            )
        batch = credentials.get("max_chunks")
        batch_size = int(_number(credentials, "max_chunks", 0, "Batch size", 1)) if batch else None
        return cls(
            url=url,
            url_text=url_text,
            api_key=str(credentials.get("api_key") or "").strip(),
            dialect=dialect,
            timeout=_number(credentials, "timeout", DEFAULT_TIMEOUT, "Timeout", 0.1),
            retries=int(_number(credentials, "max_retries", DEFAULT_RETRIES, "Retries", 0)),
            batch_size=batch_size,
            served_model=str(credentials.get("served_model_name") or "").strip() or model,
        )


def int_setting(credentials: Mapping[str, Any], key: str, default: int, label: str) -> int:
    """An integer model property from the credentials form (context size, batch size)."""
    return int(_number(credentials, key, default, label, 1))


# ---------------------------------------------------------------------------------------------------------------
# Shared state: the HTTP connection pool and what each server answered on
# ---------------------------------------------------------------------------------------------------------------

_lock = threading.Lock()
_http: httpx.Client | None = None
_remembered: dict[tuple, ep.Endpoint] = {}
_no_tokenize_until: dict[tuple, float] = {}


def _client() -> httpx.Client:
    global _http
    with _lock:
        if _http is None:
            _http = httpx.Client(
                follow_redirects=True,
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
                headers={"User-Agent": f"bge-local-dify-plugin/{PLUGIN_VERSION}"},
            )
        return _http


class _Miss(Exception):
    """This endpoint is not the one: try the next."""


class _Shape(Exception):
    """The JSON is not the expected response shape."""


def server_message(resp: httpx.Response, limit: int = 300) -> str:
    """The server's own words about an error, from any of the usual JSON shapes."""
    try:
        body = resp.json()
    except ValueError:
        text = resp.text.strip()
        if text.lower().startswith("<!doctype") or text.lower().startswith("<html"):
            return "an HTML page"
        return text[:limit] or resp.reason_phrase
    msg: Any = body
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            msg = err["message"]
        elif isinstance(err, str) and err:
            msg = err
        elif body.get("detail"):
            msg = body["detail"]
        elif body.get("message"):
            msg = body["message"]
    if isinstance(msg, list):  # FastAPI validation errors
        parts = []
        for item in msg[:3]:
            if isinstance(item, dict):
                loc = ".".join(str(x) for x in item.get("loc", []) if x != "body")
                parts.append(f"{loc}: {item.get('msg', '')}".strip(": "))
            else:
                parts.append(str(item))
        msg = "; ".join(parts)
    return str(msg)[:limit]


def _is_model_404(resp: httpx.Response) -> bool:
    """A 404 about the model (not served here), as opposed to a path the server does not have."""
    try:
        body = resp.json()
    except ValueError:
        return False
    err = body.get("error") if isinstance(body, dict) else None
    code = f"{err.get('code', '')} {err.get('type', '')}" if isinstance(err, dict) else ""
    if "route" in code:
        return False
    return "model" in code.lower() or bool(_MODEL_404.search(server_message(resp)))


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


_CJK = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_PIECES = re.compile(r"[^\W\d_]+|\d+|[^\w\s]")


def estimate_tokens(text: str) -> int:
    """A local token estimate for XLM-R style tokenizers, used when the server has no /tokenize.

    CJK characters count one token each; a word counts one token per ~6 letters; digits one per 3;
    punctuation one each; plus the two special tokens. It downloads nothing.
    """
    cjk = len(_CJK.findall(text))
    rest = _CJK.sub(" ", text)
    n = 0
    for piece in _PIECES.findall(rest):
        if piece.isdigit():
            n += math.ceil(len(piece) / 3)
        elif piece[0].isalpha():
            n += max(1, math.ceil(len(piece) / 6))
        else:
            n += 1
    return cjk + n + 2


# ---------------------------------------------------------------------------------------------------------------
# Response parsers, one per wire format
# ---------------------------------------------------------------------------------------------------------------


def _floats(vec: Any) -> list[float]:
    if isinstance(vec, str):  # base64 little-endian float32, if a server insists
        raw = base64.b64decode(vec)
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    if not isinstance(vec, list) or not vec or not all(isinstance(x, int | float) for x in vec):
        raise _Shape("an embedding is not a list of numbers")
    return [float(x) for x in vec]


def parse_embeddings(wire: str, body: Any, n: int) -> tuple[list[list[float]], int | None]:
    if wire == ep.TEI_EMBED:
        if not isinstance(body, list):
            raise _Shape("expected a list of vectors")
        vectors = [_floats(v) for v in body]
        tokens = None
    else:
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise _Shape("no 'data' list")
        items = body["data"]
        if all(isinstance(it, dict) and isinstance(it.get("index"), int) for it in items):
            items = sorted(items, key=lambda it: it["index"])
        vectors = [_floats(it.get("embedding") if isinstance(it, dict) else None) for it in items]
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        tokens = usage.get("prompt_tokens") or usage.get("total_tokens")
        tokens = int(tokens) if isinstance(tokens, int | float) and tokens > 0 else None
    if len(vectors) != n:
        raise _Shape(f"{len(vectors)} vectors for {n} texts")
    return vectors, tokens


def parse_scores(wire: str, body: Any, n: int) -> list[tuple[int, float]]:
    if wire == ep.TEI_RERANK:
        items = body
    elif wire == ep.VLLM_SCORE:
        items = body.get("data") if isinstance(body, dict) else None
    else:
        items = body.get("results") if isinstance(body, dict) else None
        if items is None and isinstance(body, list):  # a TEI server answering on a Jina path
            items = body
    if not isinstance(items, list):
        raise _Shape("no list of results")
    out = []
    for it in items:
        if not isinstance(it, dict) or not isinstance(it.get("index"), int):
            raise _Shape("a result has no index")
        score = it.get("relevance_score", it.get("score"))
        if not isinstance(score, int | float) or not 0 <= it["index"] < n:
            raise _Shape("a result has no score or a bad index")
        out.append((it["index"], float(score)))
    return out


# ---------------------------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------------------------


class BgeClient:
    def __init__(self, settings: Settings, task: str):
        self.s = settings
        self.task = task

    @classmethod
    def for_model(cls, model: str, credentials: Mapping[str, Any], task: str) -> BgeClient:
        return cls(Settings.from_credentials(credentials, model, task), task)

    # -- HTTP with retries ----------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.s.api_key:  # no Authorization header at all without a key
            headers["Authorization"] = f"Bearer {self.s.api_key}"
        return headers

    def _timeout(self, seconds: float) -> httpx.Timeout:
        return httpx.Timeout(seconds, connect=min(seconds, 10.0))

    def _send(
        self,
        method: str,
        url: str,
        body: Any = None,
        *,
        retries: int | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        retries = self.s.retries if retries is None else retries
        timeout = self.s.timeout if timeout is None else timeout
        attempt = 0
        while True:
            try:
                resp = _client().request(
                    method, url, json=body, headers=self._headers(), timeout=self._timeout(timeout)
                )
            except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout):
                raise self._timeout_error(url, timeout) from None
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError) as e:
                if attempt < retries:
                    self._sleep(attempt, None)
                    attempt += 1
                    continue
                raise self._unreachable(url, e) from None
            except httpx.HTTPError as e:
                raise self._unreachable(url, e) from None
            if resp.status_code in RETRY_STATUSES and attempt < retries:
                self._sleep(attempt, resp.headers.get("retry-after"))
                attempt += 1
                continue
            return resp

    @staticmethod
    def _sleep(attempt: int, retry_after: str | None) -> None:
        delay = min(MAX_BACKOFF, 0.5 * 2**attempt)
        if retry_after and retry_after.strip().replace(".", "", 1).isdigit():  # seconds (dates are ignored)
            delay = min(MAX_BACKOFF * 2, float(retry_after))
        time.sleep(delay)

    # -- error messages ---------------------------------------------------------------------------------------

    def _docker_hint(self) -> str:
        if not ep.is_local_host(self.s.url.host):
            return ""
        port = urlport(self.s.url.origin)
        return (
            f" Note: if Dify runs in Docker, '{self.s.url.host}' is the Dify container itself, not the machine"
            f" running the server. Use the server's name on Dify's Docker network (e.g. http://bge-local:{port})"
            f" or http://host.docker.internal:{port} (on Linux, add"
            ' extra_hosts: ["host.docker.internal:host-gateway"] to the plugin_daemon service).'
        )

    def _unreachable(self, url: str, exc: Exception) -> InvokeError:
        reason = str(exc).strip() or type(exc).__name__
        return _error(
            InvokeConnectionError,
            UNREACHABLE,
            f"Cannot reach the server at {self.s.url.origin} ({reason}; tried {url}). Is the server running,"
            f" and is the server URL right?{self._docker_hint()}",
        )

    def _timeout_error(self, url: str, timeout: float) -> InvokeError:
        return _error(
            InvokeConnectionError,
            TIMEOUT,
            f"The server at {url} did not answer within {timeout:g} seconds. It may be busy or still loading"
            " its models: check the server's logs, or raise 'Timeout' in the model settings (and lower the"
            " batch size for long documents).",
        )

    def _status_error(self, resp: httpx.Response, url: str) -> InvokeError:
        status = resp.status_code
        said = server_message(resp)
        what = TASK_WORDS[self.task]
        if status in (401, 403):
            if self.s.api_key:
                msg = (
                    f"The server refused the API key (HTTP {status}: {said}). Check the API key: it must be the"
                    " key the server was started with (--api-key), or empty if the server has none."
                )
            else:
                msg = (
                    f"The server requires an API key (HTTP {status}: {said}). Enter the server's key in the"
                    " API key field."
                )
            return _error(InvokeAuthorizationError, AUTH, msg)
        if _WRONG_TYPE_PATTERNS[self.task].search(said) and status in (400, 404, 422, 424, 500):
            return self._wrong_type(said)
        if status == 404:
            return _error(
                InvokeBadRequestError,
                NO_SUCH_MODEL,
                f"The server at {url} does not serve a model named '{self.s.served_model}' ({said}). Use a"
                " model name the server lists at /v1/models, or set 'Model name on the server'.",
            )
        if status == 413:
            return _error(
                InvokeBadRequestError,
                TOO_LARGE,
                f"The server refused the request as too large (HTTP 413: {said}). Lower the batch size in the"
                " model settings.",
            )
        if status == 429:
            return _error(
                InvokeRateLimitError,
                RATE_LIMIT,
                f"The server is overloaded (HTTP 429: {said}), still after {self.s.retries} retries. Try again"
                " later or lower the batch size.",
            )
        cls, kind = STATUS_ERRORS.get(
            status, (InvokeServerUnavailableError, SERVER) if status >= 500 else (InvokeBadRequestError, BAD_REQUEST)
        )
        if kind == SERVER:
            return _error(cls, kind, f"The server failed the {what} request (HTTP {status} at {url}): {said}")
        return _error(cls, kind, f"The server rejected the {what} request (HTTP {status} at {url}): {said}")

    def _wrong_type(self, said: str) -> InvokeError:
        typed = ""
        hint = self.s.url.hint_task
        if hint and hint != self.task:
            typed = f" The URL you entered ends in {self.s.url.hint_path}, a {TASK_WORDS[hint]} endpoint."
        if self.task == ep.EMBEDDINGS:
            msg = (
                f"The server at {self.s.url.base} does not serve an embedding model ({said}): it looks like a"
                f" reranker.{typed} Add this URL as a Rerank model, and give the embedding model the URL of"
                " the server that serves embeddings."
            )
        else:
            msg = (
                f"The server at {self.s.url.base} does not serve a reranker ({said}): it looks like an embedding"
                f" server.{typed} Add this URL as a Text Embedding model, and give the rerank model the URL of"
                " the server that serves the reranker."
            )
        return _error(InvokeBadRequestError, WRONG_TYPE, msg)

    def _not_found(self, tried: list[str]) -> InvokeError:
        what = TASK_WORDS[self.task]
        typed = ""
        if self.s.url.hint_task and self.s.url.hint_task != self.task:
            typed = (
                f" The URL you entered ends in {self.s.url.hint_path}, a {TASK_WORDS[self.s.url.hint_task]}"
                f" endpoint: is this the {what} server?"
            )
        example = "http://bge-local:8000"
        return _error(
            InvokeBadRequestError,
            NOT_FOUND,
            f"No {what} endpoint found at {self.s.url.base}. Tried: {'; '.join(tried)}.{typed} Check the"
            f" server URL: enter the server's address, e.g. {example} or {example}/v1 (with any path prefix"
            " your reverse proxy adds); the plugin finds the endpoints itself."
            + (f" (API dialect is set to '{self.s.dialect}'.)" if self.s.dialect != "auto" else ""),
        )

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
        raise self._not_found(tried)

    def _attempt(
        self, cand: ep.Endpoint, body_for: Callable[[str], Any], parse: Callable[[str, Any], Any]
    ) -> tuple[Any, ep.Endpoint]:
        resp = self._send("POST", cand.url, body_for(cand.wire))
        status = resp.status_code
        if status in (404, 405):
            if status == 404 and _is_model_404(resp):
                raise self._status_error(resp, cand.url)
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
            except _Shape as e:
                raise _Miss(f"answered, but not like a {TASK_WORDS[self.task]} API: {e}") from None
        raise self._status_error(resp, cand.url)

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
        def body(wire: str) -> dict:
            if wire == ep.TEI_EMBED:
                return {"inputs": texts, "truncate": True}
            return {"model": self.s.served_model, "input": texts, "encoding_format": "float"}

        try:
            vectors, tokens = self._discover(body, lambda wire, data: parse_embeddings(wire, data, len(texts)))
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

            def body(wire: str, chunk: list[str] = chunk, want: int = want) -> dict:
                if wire == ep.TEI_RERANK:
                    return {"query": query, "texts": chunk, "raw_scores": False, "return_text": False, "truncate": True}
                if wire == ep.VLLM_SCORE:
                    return {"model": self.s.served_model, "text_1": query, "text_2": chunk}
                return {
                    "model": self.s.served_model,
                    "query": query,
                    "documents": chunk,
                    "top_n": want,
                    "return_documents": False,
                }

            results = self._discover(body, lambda wire, data, k=len(chunk): parse_scores(wire, data, k))
            scored.extend((start + i, s) for i, s in results)
        if any(s < 0.0 or s > 1.0 for _, s in scored):  # raw logits from some server: bring them into 0..1
            scored = [(i, sigmoid(s)) for i, s in scored]
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
        except (InvokeError, _Shape) as e:
            with _lock:
                _no_tokenize_until[key] = time.monotonic() + TOKENIZE_RETRY_AFTER
            logger.info("bge_local: no usable /tokenize at %s (%s); estimating tokens locally", self.s.url.base, e)
            return [estimate_tokens(t) for t in texts]
        return counts

    def _tokenize(self, url: str, body: dict, n: int, timeout: float) -> list[int]:
        resp = self._send("POST", url, body, retries=0, timeout=timeout)
        if not 200 <= resp.status_code < 300:
            raise _Shape(f"HTTP {resp.status_code}")
        try:
            data = resp.json()
        except ValueError:
            raise _Shape("not JSON") from None
        if isinstance(data, dict):
            if isinstance(data.get("count"), int):
                counts = [data["count"]]
            elif isinstance(data.get("tokens"), list):
                tok = data["tokens"]
                counts = [len(t) for t in tok] if tok and isinstance(tok[0], list) else [len(tok)]
            else:
                raise _Shape("unknown /tokenize answer")
        elif isinstance(data, list) and all(isinstance(t, list) for t in data):
            counts = [len(t) for t in data]
        elif isinstance(data, list) and n == 1:
            counts = [len(data)]
        else:
            raise _Shape("unknown /tokenize answer")
        if len(counts) != n:
            raise _Shape(f"{len(counts)} counts for {n} texts")
        return counts

    # -- validation -------------------------------------------------------------------------------------------

    def check(self) -> None:
        """One real call, as Dify's users will make it."""
        if self.task == ep.EMBEDDINGS:
            vectors, _ = self.embed(["bge-local connection check"], 1)
            if not vectors or not vectors[0]:
                raise _error(InvokeBadRequestError, BAD_REQUEST, "The server returned an empty embedding.")
        else:
            self.rerank("What is bge-m3?", ["bge-m3 is an embedding model.", "Paris is in France."], 2)


def urlport(origin: str) -> str:
    m = re.search(r":(\d+)$", origin)
    if m:
        return m.group(1)
    return "443" if origin.startswith("https:") else "80"


def customizable_model_entity(model: str, credentials: Mapping[str, Any], model_type: Any) -> Any:
    """The schema Dify shows for a model the user added by hand (context size and batch size from its form)."""
    from dify_plugin.entities import I18nObject
    from dify_plugin.entities.model import AIModelEntity, FetchFrom, ModelPropertyKey

    return AIModelEntity(
        model=model,
        label=I18nObject(en_US=model),
        model_type=model_type,
        fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
        model_properties={
            ModelPropertyKey.CONTEXT_SIZE: int_setting(credentials, "context_size", DEFAULT_CONTEXT, "Context size"),
            ModelPropertyKey.MAX_CHUNKS: int_setting(credentials, "max_chunks", DEFAULT_BATCH, "Batch size"),
        },
        parameter_rules=[],
    )


def validate_model(model: str, credentials: Mapping[str, Any], task: str) -> None:
    """Raise CredentialsValidateFailedError with a message a Dify user can act on."""
    try:
        BgeClient.for_model(model, credentials, task).check()
    except InvokeError as e:
        raise CredentialsValidateFailedError(str(e)) from None


def validate_provider(credentials: Mapping[str, Any], embedding_model: str, rerank_model: str) -> None:
    """Provider-level check: embeddings on the server URL (and the reranker, where it has its own URL).

    A server that serves only a reranker is accepted when the rerank call works.
    """
    try:
        BgeClient.for_model(embedding_model, credentials, ep.EMBEDDINGS).check()
    except InvokeError as e:
        if error_kind(e) not in (NOT_FOUND, WRONG_TYPE, NO_SUCH_MODEL):
            raise CredentialsValidateFailedError(str(e)) from None
        try:
            BgeClient.for_model(rerank_model, credentials, ep.RERANK).check()
        except InvokeError:
            raise CredentialsValidateFailedError(str(e)) from None
        return
    if str(credentials.get("rerank_server_url") or "").strip():
        try:
            BgeClient.for_model(rerank_model, credentials, ep.RERANK).check()
        except InvokeError as e:
            raise CredentialsValidateFailedError(f"Rerank server URL: {e}") from None


# ---------------------------------------------------------------------------------------------------------------
# Glue for the model classes
# ---------------------------------------------------------------------------------------------------------------


class DifyErrorsMixin:
    """Keep this client's errors (already worded for the user) as they are; map anything else."""

    @property
    def _invoke_error_mapping(self) -> dict[type[InvokeError], list[type[Exception]]]:
        return {
            InvokeConnectionError: [InvokeConnectionError, httpx.TransportError],
            InvokeServerUnavailableError: [InvokeServerUnavailableError],
            InvokeRateLimitError: [InvokeRateLimitError],
            InvokeAuthorizationError: [InvokeAuthorizationError],
            InvokeBadRequestError: [InvokeBadRequestError, ValueError, KeyError, TypeError],
        }

    def _transform_invoke_error(self, error: Exception) -> InvokeError:
        for dify_error, errors in self._invoke_error_mapping.items():
            if isinstance(error, tuple(errors)):
                if isinstance(error, InvokeError):
                    return dify_error(error.description)
                return dify_error(f"bge_local: {type(error).__name__}: {error}")
        return InvokeError(f"bge_local: {type(error).__name__}: {error}")
