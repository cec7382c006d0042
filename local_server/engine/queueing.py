"""The batcher's queue: waiting inputs in length buckets, so choosing a batch costs the same at 10 or 20,000 waiting.

Every input is in two FIFOs: the arrival order (to find the oldest waiting input, the batch's anchor: nobody
starves) and its length bucket (to find inputs of a similar length). ``take`` anchors a batch on the oldest input
and fills it from the buckets nearest the anchor's length, oldest first within a bucket, under the token budget
and the padding cap. Nothing is ever removed from the middle of a FIFO: an input taken through one FIFO is marked
and skipped when it reaches the front of the other, so every step is O(1) and choosing a batch examines at most
``len(bucket bounds) + batch size`` entries plus the stale ones it discards (each once in its life).
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class WorkItem:
    ids: list[int]
    needs: Any
    future: Future = field(default_factory=Future)
    enqueued: float = field(default_factory=time.monotonic)
    gone: bool = False  # taken into a batch, or dropped (its request went away)
    seq: int = 0  # arrival order, set by the queue


def _bucket_bounds() -> tuple[int, ...]:
    """Upper bounds of the length buckets: width 8 up to 128 tokens, then 16 steps per doubling (inputs in one
    bucket differ by at most ~6% in length) up to 64k, then one last bucket for anything longer."""
    bounds = list(range(8, 129, 8))
    base = 128
    while base < 65536:
        step = base // 16
        bounds += range(base + step, 2 * base + 1, step)
        base *= 2
    return tuple(bounds)


BUCKET_BOUNDS = _bucket_bounds()


def bucket_of(length: int) -> int:
    return bisect.bisect_left(BUCKET_BOUNDS, length)


class LengthQueue:
    """Not thread-safe: the batcher calls it under its own lock. ``steps`` counts the entries ``take`` examined
    (the structural measure of its cost, read by the tests and the bench)."""

    def __init__(self) -> None:
        self._arrivals: deque[WorkItem] = deque()
        self._buckets: list[deque[WorkItem]] = [deque() for _ in range(len(BUCKET_BOUNDS) + 1)]
        self._occupied: set[int] = set()  # buckets that may hold an entry (stale ones included)
        self.size = 0  # inputs waiting (cancelled ones included until they are found)
        self.tokens = 0
        self.steps = 0
        self._seq = 0

    def __len__(self) -> int:
        return self.size

    def push(self, items: Iterable[WorkItem]) -> None:
        for it in items:
            self._seq += 1
            it.seq = self._seq
            self._arrivals.append(it)
            b = bucket_of(len(it.ids))
            self._buckets[b].append(it)
            self._occupied.add(b)
            self.size += 1
            self.tokens += len(it.ids)

    def oldest(self) -> WorkItem | None:
        """The oldest waiting input (cancelled ones are not skipped here: ``take`` drops them)."""
        arrivals = self._arrivals
        while arrivals and arrivals[0].gone:
            arrivals.popleft()
        return arrivals[0] if arrivals else None

    def _remove(self, it: WorkItem) -> None:
        it.gone = True
        self.size -= 1
        self.tokens -= len(it.ids)

    def _front(self, b: int) -> WorkItem | None:
        """The oldest live entry of bucket ``b``; stale entries before it are discarded."""
        dq = self._buckets[b]
        while dq:
            self.steps += 1
            if not dq[0].gone:
                return dq[0]
            dq.popleft()
        self._occupied.discard(b)
        return None

    def take(self, max_tokens: int, max_size: int, max_padding: float) -> tuple[list[WorkItem], int]:
        """Remove and return the next batch (in arrival order) and how many cancelled inputs were dropped.

        The batch is anchored on the oldest input; inputs join it from the buckets nearest the anchor's length
        while the padded batch (width x inputs) stays within ``max_tokens`` and its padding share within
        ``max_padding``. The first input of a bucket that does not fit closes that bucket for this batch."""
        dropped = 0
        while True:
            anchor = self.oldest()
            if anchor is None:
                return [], dropped
            self.steps += 1
            if anchor.future.cancelled():
                self._remove(anchor)
                dropped += 1
                continue
            break
        home = bucket_of(len(anchor.ids))
        self._remove(anchor)
        chosen = [anchor]
        width = real = len(anchor.ids)
        for b in self._nearest(home):
            if len(chosen) >= max_size:
                break
            while len(chosen) < max_size:
                it = self._front(b)
                if it is None:
                    break
                if it.future.cancelled():
                    self._remove(it)
                    self._buckets[b].popleft()
                    dropped += 1
                    continue
                length = len(it.ids)
                new_width = max(width, length)
                padded = new_width * (len(chosen) + 1)
                if padded > max_tokens or padded - real - length > max_padding * padded:
                    break  # this bucket's inputs wait for a batch nearer their own length
                self._remove(it)
                self._buckets[b].popleft()
                chosen.append(it)
                width, real = new_width, real + length
        chosen.sort(key=lambda it: it.seq)
        return chosen, dropped

    def _nearest(self, home: int) -> Iterable[int]:
        """Occupied buckets by distance from ``home`` (the nearer shorter one first on a tie)."""
        occupied = sorted(self._occupied)  # at most len(BUCKET_BOUNDS) + 1 entries, whatever the queue holds
        self.steps += len(occupied)
        return sorted(occupied, key=lambda b: (abs(b - home), b))

    def drain(self) -> list[WorkItem]:
        """Remove and return everything still waiting."""
        items = [it for it in self._arrivals if not it.gone]
        for it in items:
            self._remove(it)
        self._arrivals.clear()
        for dq in self._buckets:
            dq.clear()
        self._occupied.clear()
        return items
