"""What routes depend on: the inference core of the app, and the API-key check.

The key is checked twice, by the same function: once by the request frame (middleware.py) from the request line
and headers alone, before any byte of the body is read, for every path that is not deliberately open
(``is_open``); and once more by the ``Auth`` dependency of each keyed route, so that a route can never be served
without it even if the frame's list of open paths were wrong.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, Request

from local_server.engine.core import InferenceCore
from local_server.http.errors import Unauthorized
from local_server.http.model_urls import SCOPE_KEY, scoped_core

# Paths anyone may ask: probes (which answer only ready or not without the key), the landing page, the docs,
# the console's static files, and Xinference's "do I need a key?". Everything else needs the key, unknown
# paths and every per-model base URL (/models/<name>/…) included.
OPEN_PATHS = frozenset({"/", "/health", "/ready", "/v1/health", "/live", "/health/live", "/docs",
                        "/docs/oauth2-redirect", "/openapi.json", "/ui", "/v1/cluster/auth"})


def is_open(path: str, public_metrics: bool = False, method: str = "GET") -> bool:
    """Whether ``path`` (normalised, see middleware.normal_path) is answered without the key. ``POST /`` is TEI's
    root (a model route): only the landing page's GET is open."""
    if path == "/":
        return method in ("GET", "HEAD")
    if path in OPEN_PATHS:
        return True
    if path == "/metrics":
        return public_metrics
    return path.startswith("/ui/") and not path.startswith("/ui/api/")


def key_error(authorization: str, keys: list[str]) -> Unauthorized | None:
    """Why ``authorization`` (the header's value) does not carry one of ``keys``; None when it does or when no
    key is configured (then any header at all is accepted)."""
    if not keys:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        token = authorization  # a bare key without the scheme
    secret = token.strip().encode("latin-1")  # header text is latin-1: back to the bytes sent
    if not secret:
        return Unauthorized("missing API key: send 'Authorization: Bearer <key>'", code="missing_api_key")
    # Compare against every key in constant time, without stopping at the first match.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(secret, key.encode())
    return None if matched else Unauthorized("invalid API key", code="invalid_api_key")


def header_value(scope: dict[str, Any], name: bytes) -> str:
    """The last value of header ``name`` (lower-case) in an ASGI scope, as text ("" when absent)."""
    value = b""
    for key, raw in scope["headers"]:
        if key == name:
            value = raw
    return value.decode("latin-1")


def get_core(request: Request) -> InferenceCore:
    """The core, or under a per-model base URL (``/models/<name>/…``) the core as seen from it."""
    core = request.app.state.core
    pinned = request.scope.get(SCOPE_KEY)
    if pinned is None:
        return core
    model, prefix = pinned
    return scoped_core(core, model, prefix)


def has_key(request: Request) -> bool:
    """Whether the request carries a valid key (always true on a server without keys)."""
    return key_error(request.headers.get("authorization", ""), request.app.state.settings.api_keys) is None


def require_key(request: Request) -> None:
    """With keys configured, demand ``Authorization: Bearer <key>``; without, accept any header at all."""
    error = key_error(request.headers.get("authorization", ""), request.app.state.settings.api_keys)
    if error is not None:
        raise error


Core = Annotated[InferenceCore, Depends(get_core)]
Auth = Depends(require_key)
