"""A model's batcher as the Ray ingress sees it: token ids go to the model's deployment through a handle.

The ingress's ``InferenceCore`` tokenizes, truncates, counts, checks limits and post-processes exactly as in
``bge-local serve``; only the step "run these token ids through the model" crosses the network. A request is
cut into chunks of at most ``max_batch_size`` inputs sent concurrently, so one large indexing request spreads
over every replica instead of queueing on one; each replica's own batcher then merges chunks of concurrent
requests into forward passes.

Failures: an engine error raised in a replica (queue full, out of memory, shutting down) reaches the routes
as the same exception ``serve`` raises, so the client sees the same status and body. A replica that dies or
drains while it holds a chunk makes that chunk run again on another replica (embedding and scoring are pure
functions of the token ids, so a rerun gives the same answer); after ``retries`` such losses the request
fails with 503.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ray.exceptions import RayActorError, RayTaskError
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError, ReplicaUnavailableError
from ray.serve.handle import DeploymentHandle

from local_server.engine.errors import NotReady, QueueFull
from local_server.engine.types import BatchStats

log = logging.getLogger("bge_local.ray")

# Replica losses survived per chunk (a node loss can take two replicas holding the same chunk in turn).
RETRIES = 3
_RETRYABLE = (RayActorError, ReplicaUnavailableError)


class DeploymentBackend:
    """The ``ModelBackend`` of a model served by a Ray Serve deployment."""

    def __init__(self, handle: DeploymentHandle, name: str, settings: Any, *, retries: int = RETRIES):
        self.handle = handle.options(method_name="run")
        self.name = name
        self.settings = settings  # read per request: a config update changes max_batch_size in place
        self.retries = retries
        self._in_flight = 0
        self.retried = 0  # chunks that ran again after their replica went away

    @property
    def queue_depth(self) -> int:
        """Inputs this ingress replica has sent to the model and not yet got back."""
        return self._in_flight

    def stats(self) -> BatchStats:
        """Empty: batches are formed and counted in the replicas, which export them as Ray metrics."""
        return BatchStats()

    async def run(self, ids_list: list[list[int]], needs: Any) -> list[Any]:
        size = max(1, self.settings.max_batch_size)
        chunks = [ids_list[i:i + size] for i in range(0, len(ids_list), size)]
        self._in_flight += len(ids_list)
        tasks = [asyncio.ensure_future(self._run_chunk(chunk, needs)) for chunk in chunks]
        try:
            parts = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:  # one chunk failed or the request went away: the others are not wanted either
                task.cancel()
            raise
        finally:
            self._in_flight -= len(ids_list)
        return [out for part in parts for out in part]

    async def _run_chunk(self, ids_list: list[list[int]], needs: Any) -> list[Any]:
        for attempt in range(self.retries + 1):
            try:
                return await self.handle.remote(ids_list, needs)
            except RayTaskError as exc:
                cause = exc.cause
                if isinstance(cause, _RETRYABLE) and attempt < self.retries:
                    self._note_retry(cause, attempt)
                    continue
                if isinstance(cause, Exception):
                    raise cause from None  # the replica's own error, as `serve` would raise it
                raise
            except _RETRYABLE as exc:
                if attempt >= self.retries:
                    raise NotReady(f"the {self.name} replicas went away {attempt + 1} times while running this "
                                   "request; retry shortly", retry_after_s=1) from exc
                self._note_retry(exc, attempt)
            except BackPressureError as exc:
                raise QueueFull(f"the {self.name} deployment's queue is full ({exc.message}); retry shortly",
                                retry_after_s=1) from exc
            except DeploymentUnavailableError as exc:
                raise NotReady(f"the {self.name} deployment is unavailable: {exc.message}",
                               retry_after_s=5) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _note_retry(self, exc: BaseException, attempt: int) -> None:
        self.retried += 1
        log.warning("%s replica lost while running a chunk (%s); running it again (retry %d of %d)", self.name,
                    type(exc).__name__, attempt + 1, self.retries)

    def close(self) -> None:
        """Nothing to stop here: the replicas drain themselves when Serve stops them."""
