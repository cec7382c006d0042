"""The engine's errors. They know nothing of HTTP: ``local_server.http.errors`` maps each to a status code
in one table, and every client dialect renders them the same way."""

from __future__ import annotations


class EngineError(Exception):
    """A request the engine cannot serve; ``message`` is meant for the client, ``code`` for programs."""

    code = "engine_error"

    def __init__(self, message: str, *, code: str | None = None, retry_after_s: float | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.retry_after_s = retry_after_s


class InvalidInput(EngineError):
    """The input itself is wrong (empty, malformed, not decodable)."""

    code = "invalid_request"


class ModelNotServed(EngineError):
    """The request names or needs a model this server does not run."""

    code = "model_not_found"


class TooLarge(EngineError):
    """Too many inputs, or an input longer than the limit when truncation is off."""

    code = "payload_too_large"


class QueueFull(EngineError):
    """The batcher's queue is at its bound: retry shortly."""

    code = "queue_full"


class NotReady(EngineError):
    """Models are loading, failed to load, or the engine is shutting down."""

    code = "model_not_ready"


class OutOfMemory(EngineError):
    """One input that does not fit in device memory even alone."""

    code = "out_of_memory"


class InferenceFailed(EngineError):
    """A forward pass failed for a reason other than memory, isolated to this input."""

    code = "inference_failed"


class ModelLoadError(RuntimeError):
    """A model that cannot be found, fetched or loaded; the message says what to do."""
