"""Errors: the HTTP status -> Dify error table and every message a Dify user reads (each says what to fix),
plus the mixin that keeps these messages intact through the SDK. The kinds validation looks at are in ``kinds``.

What a user reads of a server's error answer: its status, and the message of a JSON error body in the shape of a
server the plugin speaks to (this project's, TEI's, vLLM's, FastAPI's), sanitized to one line of at most
``REASON_LIMIT`` printable characters. Never the body itself: an HTML page, plain text or any other JSON is
replaced by the status's standard reason phrase, so an answer from some other service never reaches the Dify UI.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

import httpx
from dify_plugin.errors.model import (
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

from provider import endpoints as ep
from provider.client.addresses import ALLOW_ENV
from provider.client.config import Settings
from provider.client.kinds import (
    AUTH,
    BAD_REQUEST,
    NO_SUCH_MODEL,
    NOT_FOUND,
    RATE_LIMIT,
    REFUSED,
    SERVER,
    TIMEOUT,
    TOO_LARGE,
    UNREACHABLE,
    WRONG_TYPE,
    tagged,
)

TASK_WORDS = {ep.EMBEDDINGS: "embedding", ep.RERANK: "rerank"}
REASON_LIMIT = 200  # characters of a server's own error message shown to the user

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


# ---- reading a server's error answer ---------------------------------------------------------------------------


def sanitized(text: str, limit: int = REASON_LIMIT) -> str:
    """One line of printable text: tags and control characters out, whitespace collapsed, at most ``limit``."""
    text = re.sub(r"<[^<>]{0,200}>|\x1b\[[0-9;?]*[ -/]*[@-~]", " ", text)  # tags, terminal escapes
    text = "".join(" " if unicodedata.category(c).startswith(("C", "Z")) else c for c in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def server_message(resp: httpx.Response, limit: int = REASON_LIMIT) -> str:
    """What the user may read of an error answer: the server's own words from a known JSON error shape,
    sanitized; otherwise the status's standard reason phrase (never the body, never the server's phrase)."""
    fallback = httpx.codes.get_reason_phrase(resp.status_code) or "no reason given"
    try:
        body = resp.json()
    except ValueError:
        return fallback
    msg: Any = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            msg = err["message"]  # this project's server, OpenAI, Infinity
        elif isinstance(err, str):
            msg = err  # TEI
        elif isinstance(body.get("detail"), str | list):
            msg = body["detail"]  # FastAPI
        elif isinstance(body.get("message"), str):
            msg = body["message"]  # vLLM
    if isinstance(msg, list):
        msg = _validation_errors(msg)
    return sanitized(msg, limit) if isinstance(msg, str) and msg.strip() else fallback


def _validation_errors(items: list[Any]) -> str:
    """FastAPI's list of validation errors, the first three as ``field: message``."""
    parts = []
    for item in items[:3]:
        if isinstance(item, dict):
            loc = ".".join(str(x) for x in item.get("loc", []) if x != "body")
            parts.append(f"{loc}: {item.get('msg', '')}".strip(": "))
        else:
            parts.append(str(item))
    return "; ".join(parts)


def is_model_404(resp: httpx.Response) -> bool:
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


# ---- messages -------------------------------------------------------------------------------------------------


def docker_hint(url: ep.ParsedURL) -> str:
    if not ep.means_this_container(url.host):
        return ""
    parts = urlsplit(url.origin)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return (
        f" Note: if Dify runs in Docker, '{url.host}' is the Dify container itself, not the machine"
        f" running the server. Use the server's name on Dify's Docker network (e.g. http://bge-local:{port})"
        f" or http://host.docker.internal:{port} (on Linux, add"
        ' extra_hosts: ["host.docker.internal:host-gateway"] to the plugin_daemon service).'
    )


def unreachable(url: ep.ParsedURL, tried: str, reason: str) -> InvokeError:
    return tagged(
        InvokeConnectionError,
        UNREACHABLE,
        f"Cannot reach the server at {url.origin} ({reason}; tried {tried}). Is the server running,"
        f" and is the server URL right?{docker_hint(url)}",
    )


def timed_out(tried: str, timeout: float) -> InvokeError:
    return tagged(
        InvokeConnectionError,
        TIMEOUT,
        f"The server at {tried} did not answer within {timeout:g} seconds. It may be busy or still loading"
        " its models: check the server's logs, or raise 'Timeout' in the model settings (and lower the"
        " batch size for long documents).",
    )


def refused(url: ep.ParsedURL, reason: str, redirect: bool) -> InvokeError:
    """The plugin does not connect there: a link-local or metadata address, or a redirect to another server."""
    reason = sanitized(reason)
    if redirect:
        hint = (" The plugin follows redirects only within the same server (same scheme, host and port, or from"
                " http:// to https:// on the same host). If you trust where it redirects, enter that address as the"
                " server URL.")
    else:
        hint = (" Link-local and cloud metadata addresses answer with the machine's credentials, not embeddings:"
                " enter your server's address. If your server really is on a link-local address, the Dify"
                f" administrator can set {ALLOW_ENV}=true in the plugin's environment.")
    return tagged(InvokeBadRequestError, REFUSED, f"The plugin stopped a request to {url.origin}: {reason}.{hint}")


def status_error(s: Settings, task: str, resp: httpx.Response, url: str) -> InvokeError:
    status = resp.status_code
    said = server_message(resp)
    if status in (401, 403):
        if s.api_key:
            msg = (
                f"The server refused the API key (HTTP {status}: {said}). Check the API key: it must be the"
                " key the server was started with (--api-key), or empty if the server has none."
            )
        else:
            msg = (
                f"The server requires an API key (HTTP {status}: {said}). Enter the server's key in the"
                " API key field."
            )
        return tagged(InvokeAuthorizationError, AUTH, msg)
    if _WRONG_TYPE_PATTERNS[task].search(said) and status in (400, 404, 422, 424, 500):
        return wrong_type(s, task, said)
    if status == 404:
        return tagged(
            InvokeBadRequestError,
            NO_SUCH_MODEL,
            f"The server at {url} does not serve a model named '{s.served_model}' ({said}). Use a"
            " model name the server lists at /v1/models, or set 'Model name on the server'.",
        )
    if status == 413:
        return tagged(
            InvokeBadRequestError,
            TOO_LARGE,
            f"The server refused the request as too large (HTTP 413: {said}). Lower the batch size in the"
            " model settings.",
        )
    if status == 429:
        return tagged(
            InvokeRateLimitError,
            RATE_LIMIT,
            f"The server is overloaded (HTTP 429: {said}), still after {s.retries} retries. Try again"
            " later or lower the batch size.",
        )
    cls, kind = STATUS_ERRORS.get(
        status, (InvokeServerUnavailableError, SERVER) if status >= 500 else (InvokeBadRequestError, BAD_REQUEST)
    )
    verb = "failed" if kind == SERVER else "rejected"
    return tagged(cls, kind, f"The server {verb} the {TASK_WORDS[task]} request (HTTP {status} at {url}): {said}")


def _typed_hint(s: Settings, task: str) -> str:
    hint = s.url.hint_task
    if not hint or hint == task:
        return ""
    return f" The URL you entered ends in {s.url.hint_path}, a {TASK_WORDS[hint]} endpoint."


def wrong_type(s: Settings, task: str, said: str) -> InvokeError:
    typed = _typed_hint(s, task)
    if task == ep.EMBEDDINGS:
        msg = (
            f"The server at {s.url.base} does not serve an embedding model ({said}): it looks like a"
            f" reranker.{typed} Add this URL as a Rerank model, and give the embedding model the URL of"
            " the server that serves embeddings."
        )
    else:
        msg = (
            f"The server at {s.url.base} does not serve a reranker ({said}): it looks like an embedding"
            f" server.{typed} Add this URL as a Text Embedding model, and give the rerank model the URL of"
            " the server that serves the reranker."
        )
    return tagged(InvokeBadRequestError, WRONG_TYPE, msg)


def not_found(s: Settings, task: str, tried: list[str]) -> InvokeError:
    what = TASK_WORDS[task]
    typed = _typed_hint(s, task).removesuffix(".")
    if typed:
        typed += f": is this the {what} server?"
    example = "http://bge-local:8000"
    return tagged(
        InvokeBadRequestError,
        NOT_FOUND,
        f"No {what} endpoint found at {s.url.base}. Tried: {'; '.join(tried)}.{typed} Check the"
        f" server URL: enter the server's address, e.g. {example} or {example}/v1 (with any path prefix"
        " your reverse proxy adds); the plugin finds the endpoints itself."
        + (f" (API dialect is set to '{s.dialect}'.)" if s.dialect != "auto" else ""),
    )


# ---- through the SDK ------------------------------------------------------------------------------------------


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
