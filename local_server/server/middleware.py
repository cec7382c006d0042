"""The two raw-ASGI middlewares every request goes through: ``RequestFrame`` (outermost) and
``CancelOnDisconnect``.

``RequestFrame``: what every HTTP request goes through before and after its route.

- paths: a trailing slash is dropped (``/v1/embeddings/`` is ``/v1/embeddings``);
- bodies: a POST without a JSON content type (``curl -d``, some SDKs) is read as JSON anyway;
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

``CancelOnDisconnect``: when a client disconnects before its response starts, the handler is cancelled,
which cancels its queued inputs (the batcher skips cancelled inputs), so abandoned work never runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from local_server.config import Settings
from local_server.server.errors import ApiError, ModelNotReady, PayloadTooLarge, error_response
from local_server.server.metrics import Metrics

access_log = logging.getLogger("bge_local.access")

# Probes and metrics keep answering while the server drains.
ALWAYS_ANSWERED = frozenset({"/health", "/ready", "/live", "/health/live", "/metrics"})


class _BodyTooLarge(Exception):
    pass


class RequestFrame:
    def __init__(self, app: Any, settings: Settings, metrics: Metrics, app_state: Any):
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.app_state = app_state

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            scope["path"] = path = path.rstrip("/") or "/"
        headers = dict(scope["headers"])  # lower-cased names; for a repeated header the last one wins
        method = scope["method"]
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
            refusal = self._refusal(path, headers.get(b"content-length", b""))
            if refusal is None:
                try:
                    await self.app(scope, receive_within_limit, send_with_id)
                except _BodyTooLarge:
                    if status:
                        raise
                    refusal = self._too_large("request body", headers={"Connection": "close"})
            if refusal is not None:
                await error_response(refusal)(scope, receive, send_with_id)
        except BaseException:
            status = status or 500
            raise
        finally:
            status = status or 499  # the client went away before an answer started
            elapsed = time.perf_counter() - started
            route_path = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(route_path, str(status)).inc()
            self.metrics.latency.labels(route_path).observe(elapsed)
            access_log.info("%s %s %d %.1fms", method, path, status, elapsed * 1000,
                            extra={"request_id": request_id, "status": status, "route": route_path})

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
    def __init__(self, app: Any, on_cancel: Any = None):
        self.app = app
        self.on_cancel = on_cancel

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        messages = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            messages.append(message)
            if not message.get("more_body", False):
                break
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
