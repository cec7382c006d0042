"""A minimal stand-in for the Hugging Face Hub HTTP API, on 127.0.0.1 only.

It plays ``HF_ENDPOINT`` exactly as https://hf-mirror.com does for users in China: the model listing
(``/api/models/<repo>/revision/<rev>`` and ``/tree/<rev>``) and file downloads
(``/<repo>/resolve/<rev>/<path>``).
Every request is logged, so tests can assert which files were fetched and which were not.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

COMMIT = "5617a9f61b028005a4858fdac845db406aefb181"


def _blob(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class FakeHub:
    def __init__(self, repos: dict[str, dict[str, bytes]]):
        self.repos = repos
        self.requests: list[tuple[str, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_HEAD(self):
                hub._handle(self, head=True)

            def do_GET(self):
                hub._handle(self, head=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def downloaded(self, repo: str) -> set[str]:
        prefix = f"/{repo}/resolve/"
        return {
            path[len(prefix) :].split("/", 1)[1]
            for method, path in self.requests
            if method == "GET" and path.startswith(prefix)
        }

    def _send(self, h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str], head: bool):
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head:
            h.wfile.write(body)

    def _json(self, h, obj, head: bool, status: int = 200):
        self._send(h, status, json.dumps(obj).encode(), {"Content-Type": "application/json"}, head)

    def _handle(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        path = unquote(urlsplit(h.path).path)
        self.requests.append(("HEAD" if head else "GET", path))
        for repo, files in self.repos.items():
            api = f"/api/models/{repo}"
            if path.startswith(api + "/revision/"):
                siblings = [{"rfilename": name} for name in sorted(files)]
                return self._json(h, {"id": repo, "modelId": repo, "sha": COMMIT, "siblings": siblings}, head)
            if path.startswith(api + "/tree/"):
                entries = [
                    {"type": "file", "oid": _blob(data), "size": len(data), "path": name}
                    for name, data in sorted(files.items())
                ]
                return self._json(h, entries, head)
            resolve = f"/{repo}/resolve/"
            if path.startswith(resolve):
                _revision, _, name = path[len(resolve) :].partition("/")
                if name not in files:
                    return self._json(h, {"error": "Entry not found"}, head, status=404)
                data = files[name]
                headers = {
                    "ETag": f'"{_blob(data)}"',
                    "X-Repo-Commit": COMMIT,
                    "Content-Type": "application/octet-stream",
                }
                return self._send(h, 200, data, headers, head)
        self._json(h, {"error": "Repository not found"}, head, status=404)
