"""The server process around the app: logging set-up, the exposure warning, and draining on SIGTERM.

- Logging: plain text for people, or one JSON object per line for log shippers (``--log-format json``).
  Access lines carry the request id that the response returns in ``X-Request-Id``; no request bodies and no
  credentials are ever logged, and control characters in any logged text are escaped (http/logsafe.py).
- ``DrainingServer``: on SIGTERM/SIGINT it marks the app as draining (new requests get a JSON 503 and
  readiness turns 503) and lets uvicorn finish the accepted requests before the process exits.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

import uvicorn

from local_server.http.logsafe import escape
from local_server.loopback import is_loopback_host

log = logging.getLogger("bge_local.lifecycle")

_EXTRA = ("request_id", "status", "route")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": escape(record.getMessage()),
        }
        for key in _EXTRA:
            if hasattr(record, key):
                value = getattr(record, key)
                entry[key] = escape(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape(record.message)  # a traceback, appended after this, keeps its lines
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} request_id={escape(str(request_id))}" if request_id else line


def configure(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def warn_if_exposed(host: str, has_key: bool) -> None:
    if has_key:
        return
    if not is_loopback_host(host):  # 0.0.0.0 and :: listen on every interface
        logging.getLogger("bge_local").warning(
            "SECURITY: serving on %s without an API key: anyone who can reach this port can use the models. "
            "Set --api-key (or BGE_LOCAL_API_KEY), or bind to 127.0.0.1.", host)


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app_state: Any):
        super().__init__(config)
        self.app_state = app_state

    def handle_exit(self, sig: int, frame: Any) -> None:
        if not getattr(self.app_state, "draining", False):
            log.info("signal %s: draining — finishing accepted requests, refusing new ones", sig)
        self.app_state.draining = True
        super().handle_exit(sig, frame)
