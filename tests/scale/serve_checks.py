"""Watching the Serve application of the cluster tests: polling for a state, replica counts and each replica's
``stats()``, and clients under load that check every answer (``Load``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
from ray_cluster import APP

TEXTS = [
    "The giant panda is a bear native to south central China.",
    "大熊猫是中国特有的熊科动物。",
    "Paris is the capital and most populous city of France.",
    "bge-m3 gives dense, sparse and multi-vector embeddings.",
    "short",
    "a somewhat longer sentence that makes this input take a few more tokens than the others do",
]


def wait_for(what: str, condition: Callable[[], Any], timeout: float = 240, every: float = 0.5) -> Any:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` (and Serve's view of the
    application) after ``timeout`` seconds."""
    from ray import serve

    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
            if last:
                return last
        except Exception as exc:  # a cluster in transition answers errors; keep polling
            last = exc
        time.sleep(every)
    try:
        view = serve.status().applications.get(APP)
    except Exception as exc:
        view = exc
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r}); Serve: {view}")


def running_replicas(deployment: str) -> int:
    from ray import serve

    status = serve.status().applications[APP]
    return status.deployments[deployment].replica_states.get("RUNNING", 0)


def app_settled(counts: dict[str, int]) -> bool:
    from ray import serve

    status = serve.status().applications.get(APP)
    if status is None or status.status != "RUNNING":
        return False
    return all(running_replicas(name) == n and not status.deployments[name].replica_states.keys() - {"RUNNING"}
               for name, n in counts.items())


def replica_stats(deployment: str, expected: int) -> dict[str, dict]:
    """Each replica's ``stats()``, collected through the deployment's handle until ``expected`` replicas answered."""
    from ray import serve

    handle = serve.get_deployment_handle(deployment, APP).options(method_name="stats")
    seen: dict[str, dict] = {}

    def collect() -> bool:
        for _ in range(8):
            s = handle.remote().result(timeout_s=30)
            seen[s["replica"]] = s
        return len(seen) >= expected

    wait_for(f"{expected} {deployment} replicas to answer", collect, timeout=120, every=0)
    return seen


@dataclass
class Load:
    """Clients sending embedding requests in a loop and checking every answer against the reference vectors.

    A request that fails (connection error or 5xx) is sent again, up to ``attempts`` times, as a client with
    retries would; ``retried`` counts those, ``failed`` counts requests that never succeeded, ``wrong`` answers
    that differ from the reference. A hang is a failure: every attempt has a timeout."""

    url: str
    expected: dict[str, np.ndarray]
    clients: int = 4
    attempts: int = 6
    ok: int = 0
    retried: int = 0
    slowest: float = 0.0  # seconds, of an answered request (for reports, never asserted)
    failed: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _one(self, client: httpx.Client, texts: list[str]) -> None:
        error = ""
        start = time.monotonic()
        for attempt in range(self.attempts):
            try:
                r = client.post(self.url + "/v1/embeddings", json={"input": texts})
                if r.status_code == 200:
                    vectors = [np.asarray(d["embedding"]) for d in r.json()["data"]]
                    with self._lock:
                        self.ok += 1
                        self.slowest = max(self.slowest, time.monotonic() - start)
                        self.retried += attempt > 0
                        if not all(np.allclose(v, self.expected[t], atol=1e-5) for v, t in
                                   zip(vectors, texts, strict=True)):
                            self.wrong.append(str(texts))
                    return
                error = f"{r.status_code} {r.text[:200]}"
                if r.status_code < 500:
                    break  # a client error would not change on a retry
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            time.sleep(0.5 * (attempt + 1))
        with self._lock:
            self.failed.append(error)

    def _client(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        with httpx.Client(timeout=60) as client:
            while not self._stop.is_set():
                pick = rng.choice(len(TEXTS), size=int(rng.integers(1, 4)), replace=False)
                self._one(client, [TEXTS[i] for i in pick])

    def __enter__(self) -> Load:
        self._pool = ThreadPoolExecutor(self.clients)
        self._futures = [self._pool.submit(self._client, i) for i in range(self.clients)]
        return self

    def wait_for_requests(self, count: int, timeout: float = 120) -> None:
        start = self.ok
        wait_for(f"{count} more answered requests", lambda: self.ok - start >= count, timeout=timeout, every=0.1)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for f in self._futures:
            f.result(timeout=600)
        self._pool.shutdown()


