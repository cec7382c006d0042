"""The web console at ``/ui``: static HTML, JS modules and CSS shipped as package data, no build step, no CDN.

Every file under ``console/static/`` is read once at start-up and served from memory with its content type,
an ETag (answers 304 to ``If-None-Match``) and ``Cache-Control: no-cache`` — the browser revalidates on
each load, so an upgraded server never runs with a stale script, and an unchanged file costs a 304.
Every ``/ui`` answer carries a strict Content-Security-Policy (scripts, styles and requests from this
origin only, nothing inline), and the page holds no secret: it asks for the API key and keeps it in the
tab's ``sessionStorage``. The page's data routes (``/v1/stats``, ``/ui/api/connect``) need the key like
the model routes.

The console lives at ``/ui/`` (with the slash) so that its relative asset URLs also resolve behind a
reverse proxy that serves the server under a path prefix; ``/ui`` redirects there, and so does ``/`` for
a browser (an ``Accept`` header that prefers HTML). The redirects are relative for the same reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from local_server.console.addresses import reachability
from local_server.console.connect import connect_rows
from local_server.http.auth import Auth, Core
from local_server.http.errors import NotFound
from local_server.http.responses import FastJSONResponse

UI_DIR = Path(__file__).with_name("static")

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str


def load_files(root: Path = UI_DIR) -> dict[str, StaticFile]:
    """Every file under ``root`` by its relative path: the only paths ``/ui/...`` answers."""
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            body = path.read_bytes()
            content_type = CONTENT_TYPES.get(path.suffix, "text/plain; charset=utf-8")  # LICENSE files
            etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            files[path.relative_to(root).as_posix()] = StaticFile(body, content_type, etag)
    return files


def prefers_html(accept: str) -> bool:
    """True when an ``Accept`` header ranks text/html above JSON (browsers do; curl, SDKs and probes don't)."""
    weights: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        weights[media.lower()] = max(q, weights.get(media.lower(), 0.0))
    html = max(weights.get("text/html", 0.0), weights.get("application/xhtml+xml", 0.0))
    json = weights.get("application/json", weights.get("application/*", weights.get("*/*", 0.0)))
    return html > 0 and html > json


def redirect(location: str) -> Response:
    return Response(status_code=307, headers={"Location": location, "Cache-Control": "no-cache"})


def create_router() -> APIRouter:
    files = load_files()
    router = APIRouter(include_in_schema=False)

    def serve(request: Request, name: str) -> Response:
        item = files.get(name)
        if item is None:
            raise NotFound(f"no console file {name!r}", code="route_not_found")
        headers = {**SECURITY_HEADERS, "ETag": item.etag, "Cache-Control": "no-cache"}
        if request.headers.get("if-none-match") == item.etag:
            return Response(status_code=304, headers=headers)
        return Response(item.body, media_type=item.content_type, headers=headers)

    @router.get("/ui")
    async def index(request: Request) -> Response:
        if not request.scope.get("raw_path", b"/ui/").endswith(b"/"):
            return redirect("ui/")  # relative: keeps a reverse proxy's path prefix
        return serve(request, "index.html")

    @router.get("/ui/api/connect", dependencies=[Auth])
    async def connect(request: Request, core: Core, url: str | None = None) -> FastJSONResponse:
        """Doctor's what-to-paste table for ``url`` (default: this request's own base URL), with test calls;
        whether the server has a key (the panel's "API key" column) and the addresses containers can reach."""
        settings = request.app.state.settings
        return FastJSONResponse({**connect_rows(url or str(request.base_url), core),
                                 "server_key": bool(settings.api_keys),
                                 "reach": reachability(settings.host, settings.port)})

    @router.get("/ui/{name:path}")
    async def asset(request: Request, name: str) -> Response:
        return serve(request, name)

    return router
