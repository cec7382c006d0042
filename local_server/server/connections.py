"""Every connection bounded: header size and count (431), time to send the headers and the body (408), idle
keep-alive, and the number of open connections (503 JSON beyond it).

uvicorn's HTTP/1.1 protocol on httptools (the C parser it picks when installed) bounds none of these: a header
of any size is buffered, connections that send nothing, or a byte a second, are held for ever. ``limited_protocol``
is that protocol with the bounds added in its parser callbacks and two timers; uvicorn's own ``timeout_keep_alive``
closes idle keep-alive connections. Why this and not another server: docs/security.md.

Refusals are written straight to the socket, as JSON in the server's one error shape, and the connection is
closed: a client that breaks these limits is not one to keep talking to.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from local_server.http.errors import error_body

log = logging.getLogger("bge_local.connections")
access_log = logging.getLogger("bge_local.access")  # the request frame's logger: one line per answer, refusals too


def log_refusal(peer: Any, status: int, code: str) -> None:
    """The access line of an answer the connection gave before any route ran (431, 408, 503): no method or path
    can be trusted yet, so it names the peer and why (the formatters escape control characters)."""
    host = peer[0] if isinstance(peer, tuple) and peer else "-"
    access_log.info("- (refused: %s from %s) %d", code, host, status, extra={"status": status, "route": "refused"})


@dataclass(frozen=True)
class ConnectionLimits:
    max_header_bytes: int
    max_headers: int
    header_timeout_s: float
    body_timeout_s: float
    max_connections: int


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing; the refusal to send is on the protocol."""


def raw_response(status: int, message: str, code: str, extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    """A whole HTTP/1.1 answer with the JSON error body, that closes the connection."""
    kind = "service_unavailable" if status == 503 else "invalid_request_error"
    body = orjson.dumps(error_body(message, kind, code))
    head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", "content-type: application/json",
            f"content-length: {len(body)}", "connection: close", *(f"{k}: {v}" for k, v in extra)]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with ``limits`` (a class attribute: see ``limited_protocol``)."""

    limits: ConnectionLimits

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._phase = "headers"  # headers → body → app → idle (between requests on a kept-alive connection)
        self._timer: asyncio.TimerHandle | None = None
        self._refusal: bytes | None = None
        self._head_bytes = self._head_count = self._parsed_bytes = 0
        if len(self.connections) > self.limits.max_connections:
            self.app = self._busy  # every request on this connection gets the 503
        self._arm(self.limits.header_timeout_s, "headers")

    # -- timers
    def _arm(self, seconds: float, phase: str) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._expired, phase)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self, phase: str) -> None:
        self._timer = None
        if self._phase != phase or self.transport.is_closing():
            return
        if phase == "headers" and self._head_bytes == 0:
            self.transport.close()  # never started a request: nothing to answer
            return
        what, limit = ("headers", self.limits.header_timeout_s) if phase == "headers" else (
            "body", self.limits.body_timeout_s)
        option = "--header-timeout-s" if phase == "headers" else "--body-timeout-s"
        self._refuse(raw_response(408, f"the request {what} did not arrive within {limit:g} s ({option})",
                                  "request_timeout"))

    # -- refusing
    def _refuse(self, response: bytes) -> None:
        self._disarm()
        cycle = self.cycle
        if cycle is None or not cycle.response_started:  # an answer begun (or sent) is not followed by another
            self.transport.write(response)
            status = int(response[9:12])  # "HTTP/1.1 431 …"
            log_refusal(self.client, status, orjson.loads(response.split(b"\r\n\r\n", 1)[1])["error"]["code"])
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the route sees the client gone: its queued work is cancelled
            cycle.message_event.set()
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        if self._refusal is not None:  # our callback stopped the parser: answer what we meant
            self._refuse(self._refusal)
            return
        super().send_400_response(msg)

    def _headers_too_large(self, what: str, option: str, limit: int) -> None:
        self._refusal = raw_response(431, f"the request's {what} is over the limit of {limit} ({option})",
                                     "headers_too_large")
        raise _Refused

    # -- parser events
    def data_received(self, data: bytes) -> None:
        if self._phase == "idle":
            self._phase = "headers"
            self._head_bytes = self._head_count = 0
            self._arm(self.limits.header_timeout_s, "headers")
        if self._phase == "headers":
            self._head_bytes += len(data)  # before parsing: httptools buffers a header until it is whole
        super().data_received(data)
        if (self._phase == "headers" and self._head_bytes > self.limits.max_header_bytes
                and not self.transport.is_closing()):
            self._refusal = raw_response(431, f"the request's headers are over the limit of "
                                         f"{self.limits.max_header_bytes} bytes (--max-header-bytes)",
                                         "headers_too_large")
            self._refuse(self._refusal)

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_header_bytes:
            self._headers_too_large("URL", "--max-header-bytes", self.limits.max_header_bytes)

    def on_message_begin(self) -> None:
        self._parsed_bytes = self._head_count = 0
        super().on_message_begin()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_count += 1
        self._parsed_bytes += len(name) + len(value) + 4  # ": " and CRLF
        if self._head_count > self.limits.max_headers:
            self._headers_too_large("number of headers", "--max-headers", self.limits.max_headers)
        if self._parsed_bytes + len(self.url) > self.limits.max_header_bytes:
            self._headers_too_large("headers", "--max-header-bytes", self.limits.max_header_bytes)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._phase = "body"
        self._arm(self.limits.body_timeout_s, "body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        if self._phase == "body":
            self._phase = "app"
            self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        if self._phase == "app":
            self._phase = "idle"  # uvicorn arms its keep-alive timer now
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    async def _busy(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        log_refusal(scope.get("client"), 503, "too_many_connections")
        body = orjson.dumps(error_body(
            f"the server has {self.limits.max_connections} connections open, its limit (--max-connections); "
            "retry shortly", "service_unavailable", "too_many_connections"))
        await send({"type": "http.response.start", "status": 503, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"retry-after", b"1"), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def limited_protocol(limits: ConnectionLimits) -> type[LimitedHttpToolsProtocol]:
    """The protocol class uvicorn instantiates per connection (``uvicorn.Config(http=...)``), with ``limits``."""
    return type("LimitedHttpToolsProtocol", (LimitedHttpToolsProtocol,), {"limits": limits})
