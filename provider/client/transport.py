"""The plugin's HTTP: one connection pool per plugin process, retries with backoff, and what a failure was.

Retried: connection failures (refused, reset, closed without an answer) and 429/502/503/504, up to the
user's "Retries", waiting 0.5 s, 1 s, 2 s … (at most 8 s) or what the server's ``Retry-After`` asks (seconds or
an HTTP date, at most 16 s). A read timeout is not retried: it would only multiply the wait.

No dify_plugin here (the client turns ``Unreachable`` and ``TimedOut`` into Dify errors with the user's
message), so the tests load this file directly.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

MAX_BACKOFF = 8.0
RETRY_STATUSES = frozenset({429, 502, 503, 504})
CONNECT_TIMEOUT = 10.0
PLUGIN_ROOT = Path(__file__).resolve().parents[2]


def plugin_version() -> str:
    """The plugin's version, from its manifest.yaml (the one Dify reads): no second copy to keep in step."""
    try:
        return str(yaml.safe_load((PLUGIN_ROOT / "manifest.yaml").read_text(encoding="utf-8"))["version"])
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return "unknown"


USER_AGENT = f"bge-local-dify-plugin/{plugin_version()}"


class Unreachable(Exception):
    """No HTTP answer came back from ``url`` (after the retries)."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class TimedOut(Exception):
    """``url`` accepted the request but did not answer within ``timeout`` seconds."""

    def __init__(self, url: str, timeout: float):
        super().__init__(f"{url}: no answer within {timeout:g} s")
        self.url = url
        self.timeout = timeout


_lock = threading.Lock()
_pool: httpx.Client | None = None


def pool() -> httpx.Client:
    """The process's connection pool (the plugin process serves every model and tenant of this provider)."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = httpx.Client(
                follow_redirects=True,
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
                headers={"User-Agent": USER_AGENT},
            )
        return _pool


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: a number of seconds or an HTTP date (RFC 9110); None if neither."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" dates: UTC
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def retry_delay(attempt: int, retry_after: str | None = None, now: dt.datetime | None = None) -> float:
    """Seconds to wait before retry number ``attempt + 1``."""
    asked = retry_after_seconds(retry_after, now)
    if asked is not None:
        return min(MAX_BACKOFF * 2, asked)
    return min(MAX_BACKOFF, 0.5 * 2**attempt)


def send(method: str, url: str, body: Any = None, *, api_key: str, retries: int, timeout: float) -> httpx.Response:
    """One request, retried as the module says. Returns any HTTP answer; raises Unreachable or TimedOut."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:  # no Authorization header at all without a key
        headers["Authorization"] = f"Bearer {api_key}"
    limits = httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT))
    attempt = 0
    while True:
        try:
            resp = pool().request(method, url, json=body, headers=headers, timeout=limits)
        except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout):
            raise TimedOut(url, timeout) from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError) as e:
            if attempt >= retries:
                raise Unreachable(url, str(e).strip() or type(e).__name__) from None
            time.sleep(retry_delay(attempt))
            attempt += 1
            continue
        except httpx.HTTPError as e:
            raise Unreachable(url, str(e).strip() or type(e).__name__) from None
        if resp.status_code in RETRY_STATUSES and attempt < retries:
            time.sleep(retry_delay(attempt, resp.headers.get("retry-after")))
            attempt += 1
            continue
        return resp
