"""Dynamic batching across concurrent requests.

Inputs from every request go into one queue per model. A worker thread per model replica (one per
device) forms batches under a padded-token budget, anchored on the oldest waiting input and filled
with the inputs closest to it in length (little padding, no starvation; ``max_padding`` caps the share
of a batch's computed tokens that may be padding, 1.0 = no cap), waits at most a few
milliseconds for company, and runs one forward pass for the union of what the batch's requests asked
for. A free replica takes the next batch, so with several GPUs work goes to whichever is least busy.

Every queued input gets its result or its error, and one input never fails another's: a forward pass that
fails splits its batch in halves, recursively, and retries them, so only an input that fails on its own gets
the error — ``OutOfMemory`` for a CUDA out-of-memory (it does not fit even alone), ``InferenceFailed`` with
the reason for anything else. Inputs whose requests went away (cancelled futures) are dropped before they run.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from local_server.engine.errors import InferenceFailed, NotReady, OutOfMemory, QueueFull
from local_server.engine.runtime import Runtime, is_out_of_memory

log = logging.getLogger("bge_local.batcher")

# How many of the oldest waiting inputs a batch is chosen from (bounds the cost of choosing).
_WINDOW = 4096


@dataclass(eq=False)
class WorkItem:
    ids: list[int]
    needs: Any
    future: Future = field(default_factory=Future)
    enqueued: float = field(default_factory=time.monotonic)


# Upper bounds of the batch-size histogram's buckets (inputs per forward pass).
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


@dataclass
class BatchStats:
    """Monotonic counts of what the batcher did, read (as a snapshot) by /metrics and the stats page.

    Every replica thread updates them under one lock, so counts are never lost with several devices."""

    batches: int = 0
    inputs: int = 0
    tokens: int = 0  # real tokens computed
    padded_tokens: int = 0  # tokens computed including padding
    oom_splits: int = 0
    dropped: int = 0  # inputs whose request went away before they ran
    failed_inputs: int = 0  # inputs whose forward pass failed (after isolation)
    busy_s: float = 0.0  # time spent in forward passes, summed over replicas (utilisation = its rate)
    batch_size_counts: list[int] = field(default_factory=lambda: [0] * (len(BATCH_SIZE_BUCKETS) + 1))

    def copy(self) -> BatchStats:
        return BatchStats(**{**self.__dict__, "batch_size_counts": list(self.batch_size_counts)})


class Batcher:
    def __init__(
        self,
        name: str,
        replicas: Sequence[Runtime],
        *,
        max_batch_tokens: int,
        max_batch_size: int,
        wait_s: float,
        max_queue: int,
        merge_needs: Callable[[Any, Any], Any] = lambda a, b: a,
        max_padding: float = 1.0,
    ):
        self.name = name
        self.replicas = list(replicas)
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_size = max_batch_size
        self.wait_s = wait_s
        self.max_queue = max_queue
        self.merge_needs = merge_needs
        self.max_padding = max_padding
        self._stats = BatchStats()
        self._stats_lock = threading.Lock()
        self._pending: list[WorkItem] = []
        self._pending_tokens = 0
        self._cond = threading.Condition()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._worker, args=(i,), name=f"{name}-replica-{i}", daemon=True)
            for i in range(len(self.replicas))
        ]
        for thread in self._threads:
            thread.start()

    # ---- the request side -------------------------------------------------------------------------
    def submit(self, ids_list: Sequence[list[int]], needs: Any) -> list[Future]:
        items = [WorkItem(ids, needs) for ids in ids_list]
        with self._cond:
            if self._closed:
                raise NotReady("the server is shutting down; retry on another instance", code="shutting_down")
            if self._pending and len(self._pending) + len(items) > self.max_queue:
                raise QueueFull(
                    f"the {self.name} queue is full ({len(self._pending)} inputs waiting, limit "
                    f"max_queue_inputs={self.max_queue}); retry shortly",
                    retry_after_s=1,
                )
            self._pending.extend(items)
            self._pending_tokens += sum(len(it.ids) for it in items)
            self._cond.notify_all()
        return [it.future for it in items]

    async def run(self, ids_list: Sequence[list[int]], needs: Any) -> list[Any]:
        """Submit and await the outputs in order (the ``ModelBackend`` call). If the caller is cancelled or an
        input fails, the request's inputs that have not run yet are dropped."""
        futures = self.submit(ids_list, needs)
        try:
            return list(await asyncio.gather(*(asyncio.wrap_future(f) for f in futures)))
        except BaseException:
            for f in futures:
                f.cancel()
            raise

    @property
    def queue_depth(self) -> int:
        return len(self._pending)

    def stats(self) -> BatchStats:
        """A consistent snapshot of the counts."""
        with self._stats_lock:
            return self._stats.copy()

    def _count(self, **increments: float) -> None:
        with self._stats_lock:
            for name, value in increments.items():
                setattr(self._stats, name, getattr(self._stats, name) + value)

    def close(self, timeout: float = 30.0) -> None:
        """Stop taking work; queued inputs still run, then the workers exit."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # ---- the worker side --------------------------------------------------------------------------
    def _batch_is_full(self) -> bool:
        return len(self._pending) >= self.max_batch_size or self._pending_tokens >= self.max_batch_tokens

    def _take_batch(self) -> list[WorkItem]:
        """Remove and return the next batch; the caller holds the lock and there is pending work."""
        live = [it for it in self._pending if not it.future.cancelled()]
        if len(live) != len(self._pending):
            self._count(dropped=len(self._pending) - len(live))
            self._pending = live
            self._pending_tokens = sum(len(it.ids) for it in live)
        if not live:
            return []
        window = live[:_WINDOW]
        anchor_len = len(window[0].ids)
        order = sorted(range(len(window)), key=lambda i: (abs(len(window[i].ids) - anchor_len), i))
        chosen: list[int] = []
        width = real = 0
        for i in order:
            length = len(window[i].ids)
            new_width = max(width, length)
            padded = new_width * (len(chosen) + 1)
            if chosen and padded > self.max_batch_tokens:
                continue
            if chosen and padded - real - length > self.max_padding * padded:
                continue  # too much padding: this input waits for a batch of its own length
            chosen.append(i)
            width = new_width
            real += length
            if len(chosen) >= self.max_batch_size:
                break
        taken = set(chosen)
        batch = [window[i] for i in sorted(chosen)]
        self._pending = [it for i, it in enumerate(window) if i not in taken] + live[_WINDOW:]
        self._pending_tokens -= sum(len(it.ids) for it in batch)
        return batch

    def _worker(self, index: int) -> None:
        replica = self.replicas[index]
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending and self._closed:
                    return
                deadline = self._pending[0].enqueued + self.wait_s
                while not self._closed and not self._batch_is_full():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                batch = self._take_batch() if self._pending else []
            live = [it for it in batch if it.future.set_running_or_notify_cancel()]
            if len(live) != len(batch):
                self._count(dropped=len(batch) - len(live))
            if live:
                self._run(replica, live)

    def _run(self, replica: Runtime, items: list[WorkItem], *, split: bool = False) -> None:
        """One forward pass over ``items``; on failure, each half again until the failing input is alone.
        ``split``: this is a part of a batch that failed (its failure was logged already)."""
        width = max(len(it.ids) for it in items)
        try:
            needs = items[0].needs
            for it in items[1:]:
                needs = self.merge_needs(needs, it.needs)
            started = time.perf_counter()
            try:
                outputs = replica.forward([it.ids for it in items], needs)
            finally:
                self._count(busy_s=time.perf_counter() - started)
        except Exception as exc:
            oom = is_out_of_memory(exc)
            if oom:
                replica.release_memory()
            if len(items) > 1:
                if oom:
                    self._count(oom_splits=1)
                if not split:
                    log.warning("%s on a batch of %d x %d tokens on %s; splitting it to find what fails",
                                "out of memory" if oom else f"forward pass failed ({type(exc).__name__})",
                                len(items), width, replica.device)
                half = len(items) // 2
                self._run(replica, items[:half], split=True)
                self._run(replica, items[half:], split=True)
                return
            self._count(failed_inputs=1)
            if oom:
                items[0].future.set_exception(OutOfMemory(
                    f"one input of {width} tokens does not fit in {replica.device} memory; send a shorter "
                    f"input or lower --max-length"))
                return
            log.error("forward pass failed on one input of %d tokens on %s", width, replica.device, exc_info=exc)
            reason = f"{type(exc).__name__}: {exc}"
            items[0].future.set_exception(InferenceFailed(
                f"the model failed on this input: {reason[:500]}"))
            return
        bucket = bisect.bisect_left(BATCH_SIZE_BUCKETS, len(items))
        with self._stats_lock:
            st = self._stats
            st.batches += 1
            st.inputs += len(items)
            st.tokens += sum(len(it.ids) for it in items)
            st.padded_tokens += width * len(items)
            st.batch_size_counts[bucket] += 1
        for it, out in zip(items, outputs, strict=True):
            it.future.set_result(out)
