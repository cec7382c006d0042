"""Dynamic batching across concurrent requests.

Inputs from every request go into one queue per model (``queueing.LengthQueue``: length buckets, so choosing a
batch costs the same however many inputs wait). Each model replica (one per device) runs a pipeline of three
threads:

- **prepare**: waits a few milliseconds for company, takes a batch under a padded-token budget — anchored on the
  oldest waiting input and filled with inputs of a similar length (little padding, no starvation; ``max_padding``
  caps the share of a batch's computed tokens that may be padding, 1.0 = no cap) — and runs the runtime's
  host-side ``prepare`` for the union of what the batch's requests asked for. It runs at most one batch ahead of
  the device: the next batch is ready while the current one executes.
- **device** (the replica thread): ``execute``, which launches the device work and does not wait for it.
- **finish**: the runtime's ``finish`` (the one device-to-host copy of the batch), then each input's future.

Every queued input gets its result or its error, and one input never fails another's: a batch that fails in any
stage is split in halves, recursively, and the halves run again, so only an input that fails on its own gets the
error — ``OutOfMemory`` for a CUDA out-of-memory (it does not fit even alone), ``InferenceFailed`` with the
reason for anything else. Before any retry the failure is left behind: the exception and its traceback (which
hold the failed batch's tensors) are dropped with every other reference to that batch, and the runtime frees its
cache, so the retries get the memory back. Inputs whose requests went away (cancelled futures) are dropped before
they run.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from local_server.engine.errors import InferenceFailed, NotReady, OutOfMemory, QueueFull
from local_server.engine.queueing import LengthQueue, WorkItem
from local_server.engine.runtime import Runtime, is_out_of_memory
from local_server.engine.types import BatchStats, size_bucket, token_bucket_floor

log = logging.getLogger("bge_local.batcher")

_STOP = object()  # the end of a pipeline stage's input
_FINISHED = object()  # the finish thread's last word to the device thread: no retry can come after it
# Batches launched on a device and not yet finished, per replica: enough to keep the device busy while the
# finish thread copies one back, few enough to bound the device memory that waiting outputs hold.
_IN_FLIGHT = 2


@dataclass(frozen=True)
class _Failure:
    """What the batcher keeps of a failed forward pass: text only, never the exception (its traceback holds the
    failed batch's tensors alive)."""

    oom: bool
    reason: str
    trace: str

    @staticmethod
    def of(exc: BaseException) -> _Failure:
        oom = is_out_of_memory(exc)
        trace = "" if oom else "".join(traceback.format_exception(exc))
        return _Failure(oom, f"{type(exc).__name__}: {exc}", trace)


@dataclass
class _Retry:
    """A batch that failed in the prepare or finish stage, sent to the device thread (which alone runs device
    work: its retries run on the runtime's stream)."""

    items: list[WorkItem]
    failure: _Failure
    from_prepare: bool


class _Replica:
    """One runtime and its pipeline threads. ``inbox`` is the device thread's input: prepared batches, failed
    batches to retry, and the stage ends."""

    def __init__(self, batcher: Batcher, index: int, runtime: Runtime):
        self.runtime = runtime
        self.ahead = threading.Semaphore(1)  # one prepared batch waiting for the device at most
        self.inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.launched: queue.Queue[Any] = queue.Queue(maxsize=_IN_FLIGHT)
        self.last_end = 0.0  # when the device last finished a batch (busy time is never counted twice)
        self.in_flight = 0  # batches taken and not yet answered (under the batcher's lock)
        name = f"{batcher.name}-replica-{index}"
        self.threads = [
            threading.Thread(target=batcher._prepare_loop, args=(self,), name=f"{name}-prepare", daemon=True),
            threading.Thread(target=batcher._device_loop, args=(self,), name=name, daemon=True),
            threading.Thread(target=batcher._finish_loop, args=(self,), name=f"{name}-finish", daemon=True),
        ]


class Batcher:
    """The local ``ModelBackend``: a queue in front of a model's replicas. ``reconfigure`` and ``healthy`` are the
    interface for whoever runs it (``scale/`` under Ray Serve)."""

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
        self.merge_needs = merge_needs
        self._stats = BatchStats()
        self._stats_lock = threading.Lock()
        self._queue = LengthQueue()
        self._cond = threading.Condition()
        self._closed = False
        self.reconfigure(max_batch_tokens=max_batch_tokens, max_batch_size=max_batch_size, wait_s=wait_s,
                         max_queue=max_queue, max_padding=max_padding)
        self._replicas = [_Replica(self, i, r) for i, r in enumerate(replicas)]
        for replica in self._replicas:
            for thread in replica.threads:
                thread.start()

    @property
    def replicas(self) -> list[Runtime]:
        return [r.runtime for r in self._replicas]

    # ---- the interface for whoever runs the batcher -------------------------------------------------
    def reconfigure(self, *, max_batch_tokens: int | None = None, max_batch_size: int | None = None,
                    wait_s: float | None = None, max_queue: int | None = None,
                    max_padding: float | None = None) -> None:
        """New batching settings, taking effect from the next batch (``None`` keeps a setting). The token budget
        is used rounded down to a token bucket, so a runtime padding a batch to its bucket stays within it."""
        with self._cond:
            if max_batch_tokens is not None:
                self.max_batch_tokens = max_batch_tokens
                self._budget = token_bucket_floor(max_batch_tokens)
            if max_batch_size is not None:
                self.max_batch_size = max_batch_size
            if wait_s is not None:
                self.wait_s = wait_s
            if max_queue is not None:
                self.max_queue = max_queue
            if max_padding is not None:
                self.max_padding = max_padding
            self._cond.notify_all()

    def healthy(self) -> bool:
        """Taking work, with every pipeline thread alive."""
        return not self._closed and all(t.is_alive() for r in self._replicas for t in r.threads)

    # ---- the request side -------------------------------------------------------------------------
    def submit(self, ids_list: Sequence[list[int]], needs: Any) -> list[Future]:
        """Queue the inputs (O(1) each: never waits on batch selection) and return their futures."""
        items = [WorkItem(ids, needs) for ids in ids_list]
        with self._cond:
            if self._closed:
                raise NotReady("the server is shutting down; retry on another instance", code="shutting_down")
            waiting = len(self._queue)
            if waiting and waiting + len(items) > self.max_queue:
                raise QueueFull(
                    f"the {self.name} queue is full ({waiting} inputs waiting, limit "
                    f"max_queue_inputs={self.max_queue}); retry shortly",
                    retry_after_s=1,
                )
            self._queue.push(items)
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
        return len(self._queue)

    def stats(self) -> BatchStats:
        """A consistent snapshot of the counts."""
        with self._stats_lock:
            return self._stats.copy()

    def _count(self, **increments: float) -> None:
        with self._stats_lock:
            for name, value in increments.items():
                setattr(self._stats, name, getattr(self._stats, name) + value)

    def close(self, timeout: float = 30.0) -> None:
        """Stop taking work; queued inputs still run, then the pipelines exit."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for replica in self._replicas:
            for thread in replica.threads:
                thread.join(max(0.0, deadline - time.monotonic()))

    # ---- stage 1: choose and prepare ----------------------------------------------------------------
    def _next_batch(self, replica: _Replica) -> list[WorkItem] | None:
        """Wait for work and for company, then take a batch; None once closed and drained. A replica with work in
        flight leaves the batch to an idle one: a free device takes the next batch."""
        q = self._queue
        with self._cond:
            while True:
                while not len(q) and not self._closed:
                    self._cond.wait()
                if not len(q):
                    return None
                oldest = q.oldest()
                deadline = (oldest.enqueued if oldest else time.monotonic()) + self.wait_s
                while not self._closed and len(q) < self.max_batch_size and q.tokens < self._budget:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                if replica.in_flight and any(not r.in_flight and r.threads[0].is_alive()
                                             for r in self._replicas):
                    self._cond.wait()  # an idle replica (choosing, or about to) takes it and notifies
                    continue
                batch, dropped = q.take(self._budget, self.max_batch_size, self.max_padding)
                if dropped:
                    self._count(dropped=dropped)
                if batch:
                    replica.in_flight += 1
                    self._cond.notify_all()  # a busy replica waiting for this one to choose may go on
                    return batch

    def _answered(self, replica: _Replica) -> None:
        """One of ``replica``'s batches is answered (results or errors)."""
        with self._cond:
            replica.in_flight -= 1
            if not replica.in_flight:
                self._cond.notify_all()

    def _prepare_loop(self, replica: _Replica) -> None:
        while True:
            replica.ahead.acquire()  # released when the device thread takes the batch prepared before
            batch = self._next_batch(replica)
            if batch is None:
                replica.inbox.put(_STOP)
                return
            live = [it for it in batch if it.future.set_running_or_notify_cancel()]
            if len(live) != len(batch):
                self._count(dropped=len(batch) - len(live))
            if not live:
                replica.ahead.release()
                self._answered(replica)
                continue
            failure = None
            try:
                prepared = replica.runtime.prepare([it.ids for it in live], self._needs(live))
            except Exception as exc:
                failure = _Failure.of(exc)
            if failure is not None:  # outside the except: nothing of the failure is alive while it is retried
                replica.inbox.put(_Retry(live, failure, from_prepare=True))
                continue
            replica.inbox.put((live, prepared))
            del batch, live, prepared

    # ---- stage 2: launch on the device (and every retry) ----------------------------------------------
    def _device_loop(self, replica: _Replica) -> None:
        runtime = replica.runtime
        with runtime.device_context():
            while True:
                job = replica.inbox.get()
                if job is _FINISHED:
                    return
                if job is _STOP or not isinstance(job, _Retry) or job.from_prepare:
                    replica.ahead.release()  # the preparation thread may take the next batch
                if job is _STOP:
                    replica.launched.put(_STOP)  # then wait for _FINISHED: a finish failure may still come back
                    continue
                if isinstance(job, _Retry):
                    items, failure = job.items, job.failure
                    job = None
                    self._recover(replica, items, failure)
                    self._answered(replica)
                    continue
                items, prepared = job
                job = failure = None
                started = time.perf_counter()
                try:
                    executed = runtime.execute(prepared)
                except Exception as exc:
                    failure = _Failure.of(exc)
                if failure is not None:
                    prepared = None  # the failed batch's inputs and outputs are gone before any retry
                    self._count(busy_s=time.perf_counter() - started)
                    self._recover(replica, items, failure)
                    self._answered(replica)
                    continue
                replica.launched.put((items, prepared, executed, started))
                del items, prepared, executed

    # ---- stage 3: copy back and answer --------------------------------------------------------------
    def _finish_loop(self, replica: _Replica) -> None:
        while True:
            job = replica.launched.get()
            if job is _STOP:
                replica.inbox.put(_FINISHED)
                return
            items, prepared, executed, started = job
            job = None
            failure = None
            try:
                outputs = replica.runtime.finish(prepared, executed)
                if len(outputs) != len(items):
                    raise ValueError(f"the runtime returned {len(outputs)} outputs for {len(items)} inputs")
            except Exception as exc:
                failure = _Failure.of(exc)
            ended = time.perf_counter()
            self._count(busy_s=max(0.0, ended - max(started, replica.last_end)))
            replica.last_end = ended
            prepared = executed = None
            if failure is not None:
                replica.inbox.put(_Retry(items, failure, from_prepare=False))
                continue
            self._answered(replica)  # first: a client answered may send its next request to this idle device
            self._complete(items, outputs)
            del items, outputs

    # ---- results and failures -------------------------------------------------------------------------
    def _needs(self, items: list[WorkItem]) -> Any:
        needs = items[0].needs
        for it in items[1:]:
            needs = self.merge_needs(needs, it.needs)
        return needs

    def _complete(self, items: list[WorkItem], outputs: Sequence[Any]) -> None:
        width = max(len(it.ids) for it in items)
        with self._stats_lock:
            st = self._stats
            st.batches += 1
            st.inputs += len(items)
            st.tokens += sum(len(it.ids) for it in items)
            st.padded_tokens += width * len(items)
            st.batch_size_counts[size_bucket(len(items))] += 1
        for it, out in zip(items, outputs, strict=True):
            it.future.set_result(out)

    def _attempt(self, replica: _Replica, items: list[WorkItem]) -> _Failure | None:
        """One whole forward pass over ``items``, answering them; the failure (as text) if it fails."""
        started = time.perf_counter()
        try:
            outputs = replica.runtime.forward([it.ids for it in items], self._needs(items))
        except Exception as exc:
            return _Failure.of(exc)  # leaving the except drops the exception, its traceback and their tensors
        finally:
            self._count(busy_s=time.perf_counter() - started)
        self._complete(items, outputs)
        return None

    def _recover(self, replica: _Replica, items: list[WorkItem], failure: _Failure) -> None:
        """``items`` failed together: free the device's cache, then run halves until each failing input is alone.
        Runs on the device thread, outside any ``except`` and with no reference to the failed batch's tensors
        left."""
        width = max(len(it.ids) for it in items)
        if len(items) > 1:
            log.warning("%s on a batch of %d x %d tokens on %s; splitting it to find what fails",
                        "out of memory" if failure.oom else f"forward pass failed ({failure.reason.split(':')[0]})",
                        len(items), width, replica.runtime.device)
        parts: list[tuple[list[WorkItem], _Failure | None]] = [(items, failure)]
        while parts:
            part, failed = parts.pop()
            if failed is None:
                failed = self._attempt(replica, part)
                if failed is None:
                    continue
            if failed.oom:
                replica.runtime.release_memory()
            if len(part) == 1:
                self._fail(replica, part[0], failed)
                continue
            if failed.oom:
                self._count(oom_splits=1)
            half = len(part) // 2
            parts += [(part[half:], None), (part[:half], None)]  # the first half runs first

    def _fail(self, replica: _Replica, item: WorkItem, failure: _Failure) -> None:
        self._count(failed_inputs=1)
        if failure.oom:
            item.future.set_exception(OutOfMemory(
                f"one input of {len(item.ids)} tokens does not fit in {replica.runtime.device} memory; send a "
                "shorter input or lower --max-length"))
            return
        log.error("forward pass failed on one input of %d tokens on %s\n%s", len(item.ids), replica.runtime.device,
                  failure.trace.rstrip())
        item.future.set_exception(InferenceFailed(f"the model failed on this input: {failure.reason[:500]}"))
