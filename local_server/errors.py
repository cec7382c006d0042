"""One error family for the whole server, rendered as JSON that every client dialect can read.

Every error body carries both OpenAI's ``{"error": {"message", "type", "code"}}`` and a
top-level ``detail`` (what FastAPI/TEI-style clients print), so no client ever sees HTML or a bare string.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status: int = 500
    type: str = "server_error"
    code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.type, self.code)


def error_body(message: str, type_: str, code: str | int) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "code": code}, "detail": message}


class BadRequest(ApiError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class Unauthorized(ApiError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class NotFound(ApiError):
    status = 404
    type = "not_found_error"
    code = "not_found"


class PayloadTooLarge(ApiError):
    status = 413
    type = "invalid_request_error"
    code = "payload_too_large"


class Overloaded(ApiError):
    status = 429
    type = "rate_limit_error"
    code = "queue_full"


class ModelNotReady(ApiError):
    status = 503
    type = "service_unavailable"
    code = "model_not_ready"


class OutOfMemory(ApiError):
    status = 503
    type = "service_unavailable"
    code = "out_of_memory"
