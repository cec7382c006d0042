"""One error family for the whole server, rendered as JSON that every client dialect can read.

Every error body carries both OpenAI's ``{"error": {"message", "type", "code"}}`` and a
top-level ``detail`` (what FastAPI/TEI-style clients print), so no client ever sees HTML or a bare string.
HTTP-level errors (auth, body shape) are ``ApiError``s; the engine's errors are mapped to a status here, in
one table (``ENGINE_ERRORS``), and every exception handler of the app is installed by ``install_handlers``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from local_server.engine import errors as engine
from local_server.http.responses import FastJSONResponse

log = logging.getLogger("bge_local.app")


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


class ModelNotReady(ApiError):
    status = 503
    type = "service_unavailable"
    code = "model_not_ready"


# The engine's errors as HTTP: status and OpenAI-style error type.
ENGINE_ERRORS: dict[type[engine.EngineError], tuple[int, str]] = {
    engine.InvalidInput: (400, "invalid_request_error"),
    engine.ModelNotServed: (404, "not_found_error"),
    engine.TooLarge: (413, "invalid_request_error"),
    engine.QueueFull: (429, "rate_limit_error"),
    engine.NotReady: (503, "service_unavailable"),
    engine.OutOfMemory: (503, "service_unavailable"),
    engine.InferenceFailed: (500, "server_error"),
}


def from_engine(exc: engine.EngineError) -> ApiError:
    """The HTTP form of an engine error."""
    status, type_ = next((v for cls, v in ENGINE_ERRORS.items() if isinstance(exc, cls)), (500, "server_error"))
    error = ApiError(exc.message, code=exc.code)
    error.status, error.type = status, type_
    if exc.retry_after_s is not None:
        error.headers["Retry-After"] = str(max(1, round(exc.retry_after_s)))
    return error


def error_response(error: ApiError) -> FastJSONResponse:
    return FastJSONResponse(error.body(), status_code=error.status, headers=error.headers)


def internal_error(method: str, path: str, exc: BaseException) -> ApiError:
    """Log an unexpected error once, with its traceback, and give the 500 to answer (which names only the
    kind of error: its text may hold request data)."""
    log.error("unhandled error on %s %s", method, path, exc_info=exc)
    return ApiError(f"internal error: {type(exc).__name__}")


_STATUS_TYPES = {404: ("not_found_error", "route_not_found"), 405: ("invalid_request_error", "method_not_allowed")}


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        if err.get("type") == "json_invalid":
            return "the request body is not valid JSON (send Content-Type: application/json and a JSON object)"
        if err.get("type") == "missing" and where == "body":
            return "the request body is empty: send a JSON object (with Content-Type: application/json)"
        if err.get("type") in {"model_attributes_type", "dict_type"} and where == "body":
            return "the request body must be a JSON object (with Content-Type: application/json)"
        parts.append(f"{where}: {err.get('msg')}")
    return "invalid request: " + "; ".join(parts[:5])


def install_handlers(app: FastAPI) -> None:
    """Every error the app can meet, rendered as the one JSON error family."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return error_response(exc)

    @app.exception_handler(engine.EngineError)
    async def engine_error(request: Request, exc: engine.EngineError) -> Response:
        return error_response(from_engine(exc))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return FastJSONResponse(error_body(_validation_message(exc), "invalid_request_error", "invalid_request"),
                                status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        type_, code = _STATUS_TYPES.get(exc.status_code, ("invalid_request_error", str(exc.status_code)))
        message = str(exc.detail)
        if exc.status_code == 400 and "parsing the body" in message:  # e.g. bytes that are not UTF-8
            message = "the request body is not valid JSON: it must be a UTF-8 encoded JSON object"
        if exc.status_code == 404:
            message = f"no route {request.method} {request.url.path}; see /docs for the routes this server answers"
        return FastJSONResponse(error_body(message, type_, code), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # Only errors raised outside the request frame get here (the frame answers all others itself):
        # Starlette re-raises after this handler, so the server logs these a second time.
        return error_response(internal_error(request.method, request.url.path, exc))
