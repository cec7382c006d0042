"""What routes depend on: the inference core of the app, and the API-key check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from local_server.engine.core import InferenceCore
from local_server.http.errors import Unauthorized
from local_server.http.model_urls import SCOPE_KEY, scoped_core


def get_core(request: Request) -> InferenceCore:
    """The core, or under a per-model base URL (``/models/<name>/…``) the core as seen from it."""
    core = request.app.state.core
    pinned = request.scope.get(SCOPE_KEY)
    if pinned is None:
        return core
    model, prefix = pinned
    return scoped_core(core, model, prefix)


def require_key(request: Request) -> None:
    """With keys configured, demand ``Authorization: Bearer <key>``; without, accept any header at all."""
    keys: list[str] = request.app.state.settings.api_keys
    if not keys:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        token = header  # a bare key without the scheme
    token = token.strip().encode()
    if not token:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'", code="missing_api_key")
    # Compare against every key in constant time, without stopping at the first match.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(token, key.encode())
    if not matched:
        raise Unauthorized("invalid API key", code="invalid_api_key")


Core = Annotated[InferenceCore, Depends(get_core)]
Auth = Depends(require_key)
