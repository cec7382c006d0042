"""Play Dify's plugin daemon: run the unpacked plugin as `python -m main` and talk its stdio protocol.

Also small real-network helpers for the tests: a recording reverse proxy in front of the real server (path
prefixes, blocked paths, injected error answers and dropped connections, recorded headers), and a server that
accepts connections and never answers (or drops them), counting them. The pytest process never imports
dify_plugin.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import queue
import socket
import subprocess
import threading
import time
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[2]
PROVIDER = "bge_local"
DROP = 0  # a RecordingProxy fault: close the connection without answering


def plugin_python() -> Path:
    """The Python of the plugin's own venv (absolute, but not resolved: a venv's python is a symlink)."""
    return Path(os.path.abspath(os.environ.get("BGE_LOCAL_PLUGIN_PYTHON") or REPO / ".venv-plugin" / "bin" / "python"))


def unpack(package: Path, target: Path) -> Path:
    """Unpack like the daemon does (plain zip extraction into a fresh folder)."""
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(package) as zf:
        zf.extractall(target)
    return target


class PluginError(Exception):
    def __init__(self, error_type: str, message: str):
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


class PluginProcess:
    """The plugin under the stdio runtime: one JSON request per line in, blank-line separated events out."""

    def __init__(self, python: Path, plugin_dir: Path, env: dict[str, str] | None = None):
        clean = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        clean.update({"INSTALL_METHOD": "local", "PYTHONUNBUFFERED": "1"})
        clean.update(env or {})
        self.stderr_path = plugin_dir / f"stderr-{os.getpid()}-{id(self)}.log"
        self._stderr = open(self.stderr_path, "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [os.path.abspath(python), "-m", "main"],
            cwd=plugin_dir,
            env=clean,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        self.events: list[dict] = []  # every event read (logs, heartbeats, sessions)
        self.manifest: dict | None = None
        self._sessions: dict[str, queue.Queue] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(60):
            self.close()
            raise RuntimeError(f"the plugin did not announce itself; stderr:\n{self.stderr()}")

    def _queue(self, session_id: str) -> queue.Queue:
        with self._lock:
            return self._sessions.setdefault(session_id, queue.Queue())

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.strip()
            if not line:
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                self.events.append({"event": "garbage", "data": line.decode(errors="replace")})
                continue
            if self.manifest is None and "event" not in msg:
                self.manifest = msg
                self._ready.set()
                continue
            self.events.append(msg)
            if msg.get("event") == "session" and msg.get("session_id"):
                self._queue(msg["session_id"]).put(msg["data"])
        self._ready.set()

    def request(self, action: str, timeout: float = 120, **data: Any) -> Any:
        """Send one request; return the streamed result, or raise PluginError as the daemon would see it."""
        session_id = f"s{next(self._ids)}"
        body = {"type": "model", "action": action, "user_id": "test-user", "provider": PROVIDER, **data}
        line = json.dumps({"session_id": session_id, "event": "request", "data": body}) + "\n"
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode())
        self.proc.stdin.flush()
        results = []
        q = self._queue(session_id)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no end of session for {action} within {timeout} s; stderr:\n{self.stderr()}")
            try:
                item = q.get(timeout=min(left, 1.0))
            except queue.Empty:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"the plugin exited ({self.proc.returncode}); stderr:\n{self.stderr()}"
                    ) from None
                continue
            kind = item.get("type")
            if kind == "stream":
                results.append(item["data"])
            elif kind == "error":
                err = item["data"]
                # drain the end marker that follows
                raise PluginError(err.get("error_type", "?"), err.get("message", ""))
            elif kind == "end":
                if len(results) != 1:
                    raise AssertionError(f"expected one result for {action}, got {results!r}")
                return results[0]

    # The actions Dify's API calls --------------------------------------------------------------------------

    def validate_provider(self, credentials: dict) -> dict:
        return self.request("validate_provider_credentials", credentials=credentials)

    def validate_model(self, model_type: str, model: str, credentials: dict) -> dict:
        return self.request("validate_model_credentials", model_type=model_type, model=model, credentials=credentials)

    def embed(self, model: str, credentials: dict, texts: list[str], input_type: str = "document") -> dict:
        # Every Dify 1.x daemon sends input_type (it is required in its request schema); SDK 0.10 requires it too.
        return self.request(
            "invoke_text_embedding",
            model_type="text-embedding",
            model=model,
            credentials=credentials,
            texts=texts,
            input_type=input_type,
        )

    def rerank(
        self,
        model: str,
        credentials: dict,
        query: str,
        docs: list[str],
        top_n: int | None = None,
        score_threshold: float | None = None,
    ) -> dict:
        return self.request(
            "invoke_rerank",
            model_type="rerank",
            model=model,
            credentials=credentials,
            query=query,
            docs=docs,
            top_n=top_n,
            score_threshold=score_threshold,
        )

    def num_tokens(self, model: str, credentials: dict, texts: list[str]) -> list[int]:
        return self.request(
            "get_text_embedding_num_tokens",
            model_type="text-embedding",
            model=model,
            credentials=credentials,
            texts=texts,
        )["num_tokens"]

    def schema(self, model_type: str, model: str, credentials: dict) -> dict | None:
        return self.request("get_ai_model_schemas", model_type=model_type, model=model, credentials=credentials)[
            "model_schema"
        ]

    def logs(self) -> list[str]:
        return [e["data"].get("message", "") for e in self.events if e.get("event") == "log"]

    def wait_for_log(self, text: str, timeout: float = 15) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.logs()):
                return True
            time.sleep(0.05)
        return False

    def stderr(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._stderr.close()


# ---------------------------------------------------------------------------------------------------------------
# Real-network helpers
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int


@dataclass
class RecordingProxy:
    """A reverse proxy in front of the real server.

    ``prefix``: the public path prefix the proxy strips (like nginx ``location /bge/ { proxy_pass …/; }``).
    ``blocked``: upstream paths answered 404 here, as a server that lacks them would.
    ``faults``: upstream path -> list of statuses to answer (one per request) before forwarding again; ``DROP``
    closes the connection without an answer (recorded as status 0).
    ``retry_after``: the ``Retry-After`` value sent with injected 429 and 503 answers.
    """

    upstream: str
    prefix: str = ""
    port: int = 0
    blocked: set[str] = field(default_factory=set)
    faults: dict[str, list[int]] = field(default_factory=dict)
    retry_after: str = "0"
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        proxy = self
        up = urlsplit(self.upstream)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, payload: bytes, ctype: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                if status in (429, 503):
                    self.send_header("Retry-After", proxy.retry_after)
                self.end_headers()
                self.wfile.write(payload)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                path = self.path
                record = Seen(self.command, path, {k.lower(): v for k, v in self.headers.items()}, body, 0)
                proxy.seen.append(record)
                if proxy.prefix:
                    if not (path == proxy.prefix or path.startswith(proxy.prefix + "/")):
                        record.status = 404
                        return self._answer(404, b'{"detail":"Not Found"}')
                    path = path[len(proxy.prefix) :] or "/"
                if path.rstrip("/") in proxy.blocked:
                    record.status = 404
                    return self._answer(404, b'{"detail":"Not Found"}')
                pending = proxy.faults.get(path.rstrip("/"))
                if pending:
                    status = pending.pop(0)
                    record.status = status
                    if status == DROP:
                        self.close_connection = True
                        return None
                    return self._answer(status, json.dumps({"error": {"message": f"injected {status}"}}).encode())
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, path, body=raw or None, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
                record.status = resp.status
                self._answer(resp.status, payload, resp.getheader("Content-Type") or "application/json")
                conn.close()

            do_GET = do_POST = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.prefix}"

    def posts(self) -> list[Seen]:
        return [s for s in self.seen if s.method == "POST"]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class SilentServer:
    """Accepts TCP connections and never answers: the way a hung or overloaded server looks. With ``drop``, it
    closes each connection at once instead (a server that crashes on every request). Counts the connections."""

    def __init__(self, drop: bool = False) -> None:
        self.drop = drop
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._conns: list[socket.socket] = []
        self._peers: list[tuple | None] = []  # in the order accepted
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            try:
                self._peers.append(conn.getpeername())
            except OSError:  # the client already reset it: still a connection that came in
                self._peers.append(None)
            if self.drop:
                conn.close()
            else:
                self._conns.append(conn)

    def connections(self, timeout: float = 15) -> int:
        """How many connections came in before this call. A probe connection joins the same accept queue, so
        once it has been accepted every earlier one has been too (polled, bounded)."""
        with socket.create_connection(self._sock.getsockname(), timeout=timeout) as probe:
            me = probe.getsockname()
            deadline = time.monotonic() + timeout
            while me not in self._peers:
                if time.monotonic() > deadline:
                    raise TimeoutError("the probe connection was never accepted")
                time.sleep(0.01)
            return self._peers.index(me)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def close(self) -> None:
        self._stop = True
        self._sock.close()
        for c in self._conns:
            c.close()
