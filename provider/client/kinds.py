"""The kinds of error the client's logic looks at, attached to a Dify error as ``.kind``.

Their own module, below both ``config`` (which refuses bad settings) and ``errors`` (which words every other
failure): each imports the kinds from here, and neither imports the other's module for them.
"""

from __future__ import annotations

from dify_plugin.errors.model import InvokeError

UNREACHABLE = "unreachable"
TIMEOUT = "timeout"
AUTH = "auth"
NOT_FOUND = "not_found"
WRONG_TYPE = "wrong_type"
NO_SUCH_MODEL = "no_such_model"
RATE_LIMIT = "rate_limit"
SERVER = "server"
BAD_REQUEST = "bad_request"
TOO_LARGE = "too_large"
SETTINGS = "settings"
REFUSED = "refused"  # an address or a redirect the plugin does not connect to


def tagged(cls: type[InvokeError], kind: str, message: str) -> InvokeError:
    err = cls(message)
    err.kind = kind  # type: ignore[attr-defined]
    return err


def error_kind(err: BaseException) -> str | None:
    return getattr(err, "kind", None)
