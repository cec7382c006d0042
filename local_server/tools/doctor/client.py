"""The doctor's HTTP client: one request, timed, its answer parsed as JSON when it is JSON."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from local_server.tools.doctor.results import Check, CheckFailed


class Unreachable(Exception):
    pass


@dataclass
class Reply:
    status: int
    body: Any
    text: str
    ms: float


def error_message(reply: Reply) -> str:
    body = reply.body
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
        if body.get("detail"):
            return str(body["detail"])
        if body.get("message"):
            return str(body["message"])
    return reply.text[:200]


def expect(reply: Reply, status: int = 200) -> Any:
    """The JSON body of a ``status`` answer; any other answer fails, saying what it means for the user."""
    if reply.status == status:
        if reply.body is None:
            raise CheckFailed(f"HTTP {reply.status} but the body is not JSON: {reply.text[:120]!r}")
        return reply.body
    message = error_message(reply)
    if reply.status == 401:
        raise CheckFailed(f"401 Unauthorized ({message})")
    if reply.status == 404:
        raise CheckFailed(f"404 Not Found ({message}): is this a bge-local server, on the right port?")
    raise CheckFailed(f"HTTP {reply.status}: {message}")


class Client:
    """Requests to one server, with or without its API key; every reply timed into the check it serves."""

    def __init__(self, url: str, api_key: str | None, timeout: float):
        import httpx

        self.url = url
        self.api_key = api_key
        self.timeout = timeout
        # trust_env=False: a proxy configured for the internet must not swallow requests to a LAN server
        self.http = httpx.Client(base_url=url, timeout=timeout, trust_env=False)

    def _headers(self, auth: bool | str) -> dict[str, str]:
        if auth is True:
            return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        if auth is False:
            return {}
        return {"Authorization": auth}

    def call(self, check: Check, method: str, path: str, body: Any = None, auth: bool | str = True) -> Reply:
        """``auth``: True sends the key (when given), False no header, a string that header."""
        import httpx

        start = time.perf_counter()
        try:
            response = self.http.request(method, path, json=body, headers=self._headers(auth))
        except httpx.ConnectError as exc:
            raise Unreachable(f"cannot connect to {self.url}: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise Unreachable(f"no answer from {self.url} within {self.timeout:.0f} s ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise Unreachable(f"{type(exc).__name__}: {exc}") from exc
        ms = (time.perf_counter() - start) * 1000
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        check.status = response.status_code
        check.ms = (check.ms or 0.0) + ms
        check.slowest_ms = max(check.slowest_ms or 0.0, ms)
        return Reply(response.status_code, parsed, response.text, ms)
