"""``GET /v1/stats``: the web console's one JSON source, read from the same Prometheus registry as ``/metrics``.

A ``StatsRecorder`` samples that registry every ``SAMPLE_INTERVAL_S`` into a small ring buffer (the last
``KEEP_SAMPLES`` intervals), so the console can draw throughput and latency over the last minutes from the
moment it opens, with no extra bookkeeping on the request path. Each sample holds per-interval deltas of
the registry's counters:

- tokens/s per model, from ``bge_local_tokens`` (tokens without padding);
- requests/s and p50/p99 latency per task (embed, rerank), from ``bge_local_request_seconds``. The
  quantiles are interpolated within the histogram's buckets exactly as Prometheus' ``histogram_quantile``
  does, so they equal what a dashboard computes from ``/metrics`` — and share its bucket resolution.

Totals (requests by route and status, by client dialect, tokens, ...) are the registry's current values.
The route needs the API key like the model routes: it names model paths, devices and traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from prometheus_client import CollectorRegistry

from local_server.dialects.server_info import health_body
from local_server.http.auth import Auth
from local_server.http.responses import FastJSONResponse
from local_server.http.routers import TaskRouter

SAMPLE_INTERVAL_S = 2.0
KEEP_SAMPLES = 300  # ten minutes
QUANTILES = (0.5, 0.99)
CHARTED_TASKS = frozenset({"embed", "rerank"})  # the console charts requests/s and latency of these

router = TaskRouter("meta", tags=["Server"])


@dataclass
class _Reading:
    """The registry's counters at one moment, keyed the way the samples need them."""

    at: float
    tokens: dict[str, float] = field(default_factory=dict)  # model -> tokens
    buckets: dict[str, dict[float, float]] = field(default_factory=dict)  # task -> le -> cumulative count
    requests: dict[str, float] = field(default_factory=dict)  # task -> requests


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """Prometheus' ``histogram_quantile`` over cumulative bucket counts (upper bound -> count), in seconds."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    total = buckets[bounds[-1]]
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):  # in the +Inf bucket: the highest finite bound, as Prometheus answers
                finite = [b for b in bounds if not math.isinf(b)]
                return finite[-1] if finite else None
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return None


class StatsRecorder:
    """Samples ``registry`` into a ring buffer; ``task_of_route`` maps a route path to its task (from the routers:
    ``routers.task_of_routes``); the requests of ``CHARTED_TASKS`` are sampled."""

    def __init__(self, registry: CollectorRegistry, task_of_route: Mapping[str, str],
                 interval_s: float = SAMPLE_INTERVAL_S, keep: int = KEEP_SAMPLES):
        self.registry = registry
        self.task_of_route = {path: task for path, task in task_of_route.items() if task in CHARTED_TASKS}
        self.interval_s = interval_s
        self.samples: deque[dict[str, Any]] = deque(maxlen=keep)
        self._last: _Reading | None = None
        self._task: asyncio.Task | None = None
        self.started_at = time.time()

    def read(self) -> _Reading:
        reading = _Reading(at=time.time())
        for family in self.registry.collect():
            for sample in family.samples:
                if sample.name == "bge_local_tokens_total":
                    model = sample.labels.get("model", "")
                    reading.tokens[model] = reading.tokens.get(model, 0.0) + sample.value
                elif sample.name in {"bge_local_request_seconds_bucket", "bge_local_request_seconds_count"}:
                    task = self.task_of_route.get(sample.labels.get("route", ""))
                    if task is None:
                        continue
                    if sample.name.endswith("_count"):
                        reading.requests[task] = reading.requests.get(task, 0.0) + sample.value
                    else:
                        le = float(sample.labels["le"])
                        per_task = reading.buckets.setdefault(task, {})
                        per_task[le] = per_task.get(le, 0.0) + sample.value
        return reading

    def sample(self, now: _Reading | None = None) -> dict[str, Any] | None:
        """Append the deltas from the previous reading to ``now`` (taken here if not given; none the first time)."""
        now = now or self.read()
        last, self._last = self._last, now
        if last is None:
            return None
        dt = max(now.at - last.at, 1e-9)
        item: dict[str, Any] = {"t": round(now.at, 3), "interval_s": round(dt, 3), "tokens_per_s": {},
                                "requests_per_s": {}, "latency_ms": {}}
        for model, total in now.tokens.items():
            item["tokens_per_s"][model] = (total - last.tokens.get(model, 0.0)) / dt
        for task in set(now.requests) | set(now.buckets):
            item["requests_per_s"][task] = (now.requests.get(task, 0.0) - last.requests.get(task, 0.0)) / dt
            before = last.buckets.get(task, {})
            delta = {le: count - before.get(le, 0.0) for le, count in now.buckets.get(task, {}).items()}
            item["latency_ms"][task] = {
                f"p{round(q * 100)}": (None if (v := histogram_quantile(q, delta)) is None else v * 1000)
                for q in QUANTILES
            }
        self.samples.append(item)
        return item

    async def _loop(self) -> None:
        while True:
            # Reading runs the engine collector (batcher locks, the GPU query, torch's first import), so it
            # happens in a worker thread; the ring buffer is only ever touched on the event loop.
            self.sample(await asyncio.to_thread(self.read))
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def _totals(registry: CollectorRegistry) -> dict[str, Any]:
    """The registry's counters and gauges that the console shows as numbers."""
    requests: list[dict[str, Any]] = []
    by_dialect: dict[str, float] = {}
    tokens: dict[str, float] = {}
    padded: dict[str, float] = {}
    for family in registry.collect():
        for s in family.samples:
            if s.name == "bge_local_requests_total":
                requests.append({"route": s.labels["route"], "status": s.labels["status"], "count": s.value})
            elif s.name == "bge_local_dialect_requests_total":
                by_dialect[s.labels["dialect"]] = s.value
            elif s.name == "bge_local_tokens_total":
                tokens[s.labels["model"]] = s.value
            elif s.name == "bge_local_padded_tokens_total":
                padded[s.labels["model"]] = s.value
    return {"requests": requests, "requests_by_dialect": by_dialect, "tokens": tokens, "padded_tokens": padded}


def current_state(state: Any) -> dict[str, Any]:
    """Models, readiness, GPU memory (as /health) and the registry's totals, as of now."""
    core = state.core
    body = health_body(core)
    if state.draining:
        body["status"] = "draining"
    by_name = {m.name: m for m in core.served_models()}
    for described in body["models"]:
        described["replicas"] = len(by_name[described["name"]].batcher.replicas)
    body.update(_totals(state.metrics.registry))
    return body


@router.get("/v1/stats", response_class=FastJSONResponse, dependencies=[Auth])
@router.get("/stats", response_class=FastJSONResponse, include_in_schema=False, dependencies=[Auth])
async def stats(request: Request) -> FastJSONResponse:
    """Models, readiness, GPU memory, queue depth, totals and the last minutes of throughput and latency."""
    state = request.app.state
    recorder: StatsRecorder = state.stats
    body = await asyncio.to_thread(current_state, state)  # the GPU query and collectors stay off the loop
    body["uptime_s"] = round(time.time() - recorder.started_at, 1)
    body["interval_s"] = recorder.interval_s
    body["samples"] = list(recorder.samples)
    return FastJSONResponse(body)
