"""The two raw-ASGI middlewares every request goes through: ``RequestFrame`` (outermost) and
``CancelOnDisconnect``.

``RequestFrame``: what every HTTP request goes through before and after its route.

- paths: doubled slashes, a doubled ``/v1`` and a trailing slash are dropped (``//embed``, ``/v1/v1/embed``,
  ``/v1/embeddings/``), and a per-model base URL (``/models/<name>/…``, see model_urls.py) is taken off and
  remembered in the scope;
- bodies: a POST without a JSON content type (``curl -d``, some SDKs) is read as JSON anyway;
- the API key, from the request line and headers alone (auth.py: every path but the open ones): a request
  without a valid key is answered 401 before a byte of its body is read, and its connection is closed
  rather than read to the end — nothing heavy happens before the key;
- refusals before any work: a draining server answers 503 ``shutting_down`` (probes and metrics
  excepted), a body over ``max_request_bytes`` gets 413 — at once when its Content-Length says so, and as
  soon as the limit is passed when it arrives chunked, so no body is ever buffered beyond the limit;
- the ``X-Request-Id`` header (the client's, or a new one) on every answer, the request counter and
  latency histogram by route and status, and one access-log line: method, path, status and time,
  never bodies or the Authorization header. A request whose client left before any answer is logged
  and counted with nginx's status 499.

It must be the outermost of the project's middlewares, so that the body limit applies to whatever reads
the body first (``CancelOnDisconnect`` reads it whole before the route runs).

It is raw ASGI rather than Starlette's ``BaseHTTPMiddleware`` because that one re-wraps every request
and response in extra tasks and streams, which costs measurable CPU per request at high request rates.

An error no handler took (a bug) is logged here once, with its traceback, and answered with the JSON 500;
it goes no further, so neither Starlette nor uvicorn logs it again ("Exception in ASGI application").

``CancelOnDisconnect`` reads each body whole before the route runs and parses it once (body.py: orjson, off
the event loop when large); the route reads that value. A body holding text that is not valid Unicode (a lone
surrogate, which JSON can smuggle as ``"\\ud800"``) is refused there with a 400 that names the field, for
every route at once. Then, when a client disconnects before its response starts, the handler
is cancelled, which cancels its queued inputs (the batcher skips cancelled inputs), so abandoned work never
runs.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from typing import Any, Protocol

from fastapi import Depends, Request

from local_server.config import Settings
from local_server.http.auth import header_value, is_open, key_error
from local_server.http.body import PARSED_KEY, parse_body
from local_server.http.errors import (
    ApiError,
    ModelNotReady,
    NotFound,
    PayloadTooLarge,
    error_response,
    internal_error,
)
from local_server.http.model_urls import PREFIX, SCOPE_KEY, split_model_prefix
from local_server.http.routers import route_label

access_log = logging.getLogger("bge_local.access")

# Probes and metrics keep answering while the server drains.
ALWAYS_ANSWERED = frozenset({"/health", "/ready", "/live", "/health/live", "/metrics"})


def tag_dialect(request: Any, dialect: str) -> None:
    """Name the client dialect a request's body spoke (OpenAI, TEI, ...), for the requests-by-dialect counter.

    Routes call it: only they know, from the body's shape, which dialect they are translating. The frame
    reads it back from the ASGI scope once the request is done.
    """
    request.state.dialect = dialect


def dialect(name: str) -> Any:
    """A router dependency naming the dialect of every route of a router that speaks one client's API only."""

    def tag(request: Request) -> None:
        tag_dialect(request, name)

    return Depends(tag)


class _BodyTooLarge(Exception):
    pass


_SLASHES = re.compile(r"//+")


def normal_path(path: str) -> str:
    """One route per path however a client glued it: doubled slashes collapse (``//embed``, ``/v1//x``: a
    trailing slash on a pasted URL), a doubled ``/v1`` collapses (``/v1/v1/x``: clients that append ``/v1`` to a
    pasted ``…/v1``), and a trailing slash is dropped."""
    path = _SLASHES.sub("/", path)
    while path.startswith("/v1/v1/") or path == "/v1/v1":
        path = path[3:]
    return path.rstrip("/") or "/"


class RequestCounter(Protocol):
    """Where the frame counts each answered request (the app's metrics)."""

    def count_request(self, route: str, status: int, seconds: float, dialect: str | None) -> None: ...


class RequestFrame:
    def __init__(self, app: Any, settings: Settings, metrics: RequestCounter, app_state: Any):
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.app_state = app_state

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope["path"] = normal_path(scope["path"])
        path = scope["path"]
        headers = dict(scope["headers"])  # lower-cased names; for a repeated header the last one wins
        method = scope["method"]
        # The key, from the request line and headers alone: a refused request's body is never read.
        unauthorized = None if is_open(path, self.settings.public_metrics, method) else key_error(
            header_value(scope, b"authorization"), self.settings.api_keys)
        unknown_model = None if unauthorized else self._route_path(scope)
        if method == "POST" and b"json" not in headers.get(b"content-type", b""):
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            scope["headers"].append((b"content-type", b"application/json"))
        request_id = headers.get(b"x-request-id", b"").decode("latin-1") or uuid.uuid4().hex
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        limit = self.settings.max_request_bytes
        received = 0

        async def receive_within_limit() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        try:
            refusal = unauthorized or unknown_model or self._refusal(path, headers.get(b"content-length", b""))
            if refusal is not None and _announces_body(headers):
                # Answered without reading the body: close rather than read what is left of it.
                refusal.headers.setdefault("Connection", "close")
            if refusal is None:
                refusal = await self._route(scope, receive_within_limit, send_with_id, lambda: status != 0)
            if refusal is not None:
                await error_response(refusal)(scope, receive, send_with_id)
        except BaseException:
            status = status or 500
            raise
        finally:
            status = status or 499  # the client went away before an answer started
            elapsed = time.perf_counter() - started
            route_path = route_label(scope.get("route"))
            dialect = scope.get("state", {}).get("dialect")  # set by the route (tag_dialect, above)
            self.metrics.count_request(route_path, status, elapsed, dialect)
            access_log.info("%s %s %d %.1fms", method, path, status, elapsed * 1000,
                            extra={"request_id": request_id, "status": status, "route": route_path})

    async def _route(self, scope: dict, receive: Any, send: Any, answered: Any) -> ApiError | None:
        """Run the route; what to answer instead when it failed before its answer started."""
        try:
            await self.app(scope, receive, send)
        except _BodyTooLarge:
            if answered():
                raise
            return self._too_large("request body", headers={"Connection": "close"})
        except Exception as exc:
            error = internal_error(scope["method"], scope["path"], exc)
            return None if answered() else error  # once an answer has started, nothing else can be sent
        return None

    def _route_path(self, scope: dict) -> ApiError | None:
        """Take a per-model prefix off the (normalised) ``scope["path"]`` and record it in the scope; an unknown
        model name is returned as the error to answer (only ever after the key was checked)."""
        path = scope["path"]
        if path.startswith(PREFIX) and getattr(self.app_state.core, "ready", False):
            try:
                found = split_model_prefix(path, self.app_state.core)
            except NotFound as exc:
                scope["path"] = path
                return exc
            if found is not None:
                model, prefix, rest = found
                scope[SCOPE_KEY] = (model, prefix)
                path = normal_path(rest)
        scope["path"] = path
        return None

    def _refusal(self, path: str, length: bytes) -> ApiError | None:
        if getattr(self.app_state, "draining", False) and path not in ALWAYS_ANSWERED:
            return ModelNotReady("the server is shutting down; retry shortly (another instance may answer)",
                                 code="shutting_down", headers={"Retry-After": "5", "Connection": "close"})
        if length.isdigit() and int(length) > self.settings.max_request_bytes:
            return self._too_large(f"request body of {length.decode()} bytes")
        return None

    def _too_large(self, what: str, headers: dict[str, str] | None = None) -> PayloadTooLarge:
        return PayloadTooLarge(f"{what} is larger than the limit of {self.settings.max_request_bytes} bytes "
                               f"(--max-request-bytes)", code="body_too_large", headers=headers)


class CancelOnDisconnect:
    def __init__(self, app: Any, on_cancel: Any = None, max_strings: int | None = None):
        self.app = app
        self.on_cancel = on_cancel
        self.max_strings = max_strings

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        messages = await _whole_body(receive)
        if messages is None:
            return  # the client left before its body arrived
        refusal = await _parse_into_scope(scope, messages, self.max_strings)
        if refusal is not None:
            await error_response(refusal)(scope, receive, send)
            return
        disconnected = asyncio.Event()
        started = False

        async def replay() -> dict:
            if messages:
                return messages.pop(0)
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def tracked_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, replay, tracked_send))

        async def watch() -> None:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected.set()
                if not started and not task.done():
                    task.cancel()
                    if self.on_cancel is not None:
                        self.on_cancel(scope)

        watcher = asyncio.ensure_future(watch())
        try:
            await task
        except asyncio.CancelledError:
            if not disconnected.is_set():
                raise
        finally:
            watcher.cancel()


async def _whole_body(receive: Any) -> list[dict] | None:
    """The request body as one message; None when the client disconnects first."""
    messages = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        messages.append(message)
        if not message.get("more_body", False):
            break
    if len(messages) == 1:
        return messages
    return [{"type": "http.request", "body": b"".join(m.get("body", b"") for m in messages), "more_body": False}]


async def _parse_into_scope(scope: dict, messages: list[dict], max_strings: int | None) -> ApiError | None:
    """Parse a POST's JSON body once (body.py) into the scope for the route; the error to answer instead."""
    body = messages[0].get("body", b"")
    if scope["method"] != "POST" or not body:
        return None
    try:
        scope[PARSED_KEY] = await parse_body(body, max_strings)
    except ApiError as refusal:
        return refusal
    return None


def _announces_body(headers: dict[bytes, bytes]) -> bool:
    """Whether a request says a body follows its headers."""
    return b"transfer-encoding" in headers or headers.get(b"content-length", b"0").strip() not in (b"", b"0")
