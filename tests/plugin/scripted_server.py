"""A loopback HTTP server whose every answer a test scripts: redirects, HTML error pages, foreign bodies. It
records each request it gets, so a test can also show that a server was never reached."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] | None = None
    reason: str | None = None  # the status line's phrase (a hostile server chooses its own)


@dataclass
class Got:
    method: str
    path: str
    body: Any


Script = Callable[[Got], Answer]


def forward(upstream: str) -> Script:
    """Answer as ``upstream`` does (the real server behind this one)."""
    up = urlsplit(upstream)

    def answer(got: Got) -> Answer:
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=120)
        payload = json.dumps(got.body).encode() if got.body is not None else None
        conn.request(got.method, got.path, body=payload, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        answer = Answer(resp.status, resp.read(), {"Content-Type": resp.getheader("Content-Type") or ""})
        conn.close()
        return answer

    return answer


class ScriptedServer:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.got: list[Got] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                got = Got(self.command, self.path, json.loads(raw) if raw else None)
                server.got.append(got)
                answer = server.script(got)
                self.send_response(answer.status, answer.reason)
                for name, value in (answer.headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = do_POST = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
