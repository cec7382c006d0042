"""The plugin's HTTP: one connection pool per plugin process, retries with backoff, and what a failure was.

Retried: connection failures (refused, reset, closed without an answer) and 429/502/503/504, up to the
user's "Retries", waiting 0.5 s, 1 s, 2 s … (at most 8 s) or what the server's ``Retry-After`` asks (seconds or
an HTTP date, at most 16 s). A read timeout is not retried: it would only multiply the wait.

Where it connects: never to a link-local or metadata address (``addresses``: checked before each request,
redirects included, and again at connection time on the very address connected to). Redirects are followed only
within the same server: the same scheme, host and port, or the upgrade from ``http://host`` to
``https://host`` (ports 80 → 443); at most ``MAX_REDIRECTS``. A redirect anywhere else is refused (``Refused``),
so a pasted URL cannot lead the plugin to another service and show its answer to the Dify user. The plugin
connects directly: it does not use ``HTTP(S)_PROXY`` from its environment (a proxy would connect on its behalf,
out of reach of the address check).

No dify_plugin here (the client turns ``Unreachable``, ``TimedOut`` and ``Refused`` into Dify errors with the
user's message), so the tests load this file directly.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import threading
import time
from pathlib import Path
from typing import Any

import httpcore
import httpx
import yaml

from provider.client.addresses import Refused, checked

MAX_BACKOFF = 8.0
MAX_REDIRECTS = 5
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


class GuardedBackend(httpcore.SyncBackend):
    """Connects to a checked address of the host, never to the name (which could resolve elsewhere by then)."""

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        try:
            addresses = checked(host, port)
        except OSError as e:  # an unknown name: a connection failure like any other
            raise httpcore.ConnectError(str(e)) from None
        failure: Exception = httpcore.ConnectError(f"{host} has no address")
        for _, address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                failure = e
        raise failure


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport over a pool whose connections go through ``GuardedBackend``."""

    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(limits=limits)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(),
        )


_lock = threading.Lock()
_pool: httpx.Client | None = None


def pool() -> httpx.Client:
    """The process's connection pool (the plugin process serves every model and tenant of this provider)."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = httpx.Client(
                transport=GuardedTransport(httpx.Limits(max_connections=64, max_keepalive_connections=16)),
                follow_redirects=False,  # followed in exchange(), within the same server only
                headers={"User-Agent": USER_AGENT},
            )
        return _pool


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


def same_server(source: httpx.URL, target: httpx.URL) -> bool:
    """Whether a redirect from ``source`` to ``target`` stays on the same server: the same origin, or the
    upgrade from http to https on the same host with the default ports (80 → 443)."""
    if target.host.lower() != source.host.lower():
        return False
    if target.scheme == source.scheme:
        return _port(target) == _port(source)
    return source.scheme == "http" and target.scheme == "https" and (_port(source), _port(target)) == (80, 443)


def _origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}"


def exchange(request: httpx.Request) -> httpx.Response:
    """Send ``request``, following redirects within the same server (at most ``MAX_REDIRECTS``); the address of
    every hop is checked before it is sent. Raises ``Refused`` for a hop elsewhere or to a refused address."""
    for _ in range(MAX_REDIRECTS + 1):
        checked_url(request.url)
        resp = pool().send(request)
        target = resp.next_request
        if target is None:
            return resp
        resp.close()
        if not same_server(request.url, target.url):
            raise Refused(request.url.host, f"{_origin(request.url)} redirected the request to another server,"
                                            f" {_origin(target.url)}", redirect=True)
        request = target
    raise Refused(request.url.host, f"more than {MAX_REDIRECTS} redirects", redirect=True)


def checked_url(url: httpx.URL) -> None:
    """Refuse a URL whose host is a refused address, before any connection (``Refused``). A name that does not
    resolve passes here: connecting fails, and is reported and retried like any connection failure."""
    with contextlib.suppress(OSError):
        checked(url.host, _port(url))


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
    """One request, retried as the module says. Returns any HTTP answer; raises Unreachable, TimedOut or
    Refused (not retried: the same URL would be refused again)."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:  # no Authorization header at all without a key
        headers["Authorization"] = f"Bearer {api_key}"
    limits = httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT))
    attempt = 0
    while True:
        try:
            resp = exchange(pool().build_request(method, url, json=body, headers=headers, timeout=limits))
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
