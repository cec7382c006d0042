"""The HTTP load generator: a closed loop of N concurrent clients over keep-alive connections.

Bodies are serialised before the clock starts; each client sends its next request as soon as its previous
answer has fully arrived. Latency is from sending a request to the last byte of its answer. The load
generator runs in the benchmark's own process, separate from every server; its CPU time is recorded
(on a 2-core machine it competes with the server under test, and that cost is part of every HTTP figure).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

try:
    import orjson

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

    _loads = orjson.loads
except ImportError:  # pragma: no cover - orjson comes with the server
    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj).encode()

    _loads = json.loads


@dataclass
class RunResult:
    latencies: list[float]
    wall_s: float
    errors: int
    first_error: str | None = None
    response_bytes: int = 0
    loadgen_cpu_s: float = 0.0


async def run_load(url: str, bodies: list[dict[str, Any]], concurrency: int,
                   check: Callable[[int, Any], str | None] | None = None, timeout: float = 900.0) -> RunResult:
    payloads = [_dumps(b) for b in bodies]
    latencies: list[float | None] = [None] * len(payloads)
    errors: list[str] = []
    size = 0
    queue = iter(range(len(payloads)))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"content-type": "application/json"}

    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        async def client_loop() -> None:
            nonlocal size
            for i in queue:
                t0 = time.perf_counter()
                try:
                    response = await client.post(url, content=payloads[i], headers=headers)
                except httpx.HTTPError as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                latencies[i] = time.perf_counter() - t0
                size += len(response.content)
                if response.status_code != 200:
                    errors.append(f"HTTP {response.status_code}: {response.text[:300]}")
                    latencies[i] = None
                elif check is not None:
                    problem = check(i, _loads(response.content))
                    if problem:
                        errors.append(problem)

        cpu0, start = time.process_time(), time.perf_counter()
        await asyncio.gather(*(client_loop() for _ in range(min(concurrency, len(payloads)))))
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu0
    return RunResult(latencies=[x for x in latencies if x is not None], wall_s=wall, errors=len(errors),
                     first_error=errors[0] if errors else None, response_bytes=size, loadgen_cpu_s=cpu)
