"""The batcher's queue: what a batch is made of, and that choosing it costs the same however many inputs wait.

Cost is counted, not timed: ``LengthQueue.steps`` counts every queue entry and bucket that ``take`` examines.
"""

from __future__ import annotations

import random

import pytest

from local_server.engine.queueing import BUCKET_BOUNDS, LengthQueue, WorkItem

MAX_SIZE = 64
BUDGET = 16384
# What one take may examine, whatever the queue holds: every bucket twice (listing the occupied ones, then
# visiting them), the batch's inputs plus the one that closed each bucket, and the entries made stale by earlier
# takes (each examined once in its life: at most one anchor per earlier take, on average).
BOUND = 2 * (len(BUCKET_BOUNDS) + 1) + MAX_SIZE + (len(BUCKET_BOUNDS) + 1) + 8


_IDS: dict[int, list[int]] = {}


def _items(rng: random.Random, count: int) -> list[WorkItem]:
    lengths = [rng.choice([8, 12, 20, 40, 90, 200, 500, 1200, 3000, 8192]) + rng.randrange(8) for _ in range(count)]
    return [WorkItem(_IDS.setdefault(n, [1] * n), None) for n in lengths]  # one id list per length: cheap


def _steps_per_take(waiting: int, takes: int = 60) -> list[int]:
    rng = random.Random(7)
    q = LengthQueue()
    q.push(_items(rng, waiting))
    costs = []
    for _ in range(takes):
        before = q.steps
        batch, _ = q.take(BUDGET, MAX_SIZE, 1.0)
        costs.append(q.steps - before)
        q.push(_items(rng, len(batch)))  # as many arrive as left: the queue stays this long
    return costs


@pytest.mark.parametrize("waiting", [512, 4096, 20000])
def test_choosing_a_batch_examines_a_bounded_number_of_entries(waiting):
    costs = _steps_per_take(waiting)
    assert max(costs) <= BOUND, (waiting, max(costs))


def test_the_cost_is_flat_in_queue_length():
    small, large = _steps_per_take(512), _steps_per_take(20000)
    assert sum(large) / len(large) <= 1.25 * sum(small) / len(small) + 8


def test_the_oldest_input_anchors_every_batch_and_similar_lengths_fill_it():
    rng = random.Random(1)
    q = LengthQueue()
    items = _items(rng, 3000)
    q.push(items)
    taken: list[WorkItem] = []
    while len(q):
        oldest = q.oldest()
        batch, dropped = q.take(4096, 32, 0.1)
        assert dropped == 0 and batch and batch[0] is oldest  # no starvation: the oldest is always in
        assert [it.seq for it in batch] == sorted(it.seq for it in batch)  # arrival order
        width, real = max(len(it.ids) for it in batch), sum(len(it.ids) for it in batch)
        assert len(batch) <= 32
        assert len(batch) == 1 or width * len(batch) <= 4096
        assert width * len(batch) - real <= 0.1 * width * len(batch) + 1e-9
        taken += batch
    assert sorted(id(it) for it in taken) == sorted(id(it) for it in items)  # each input exactly once
    assert q.tokens == 0


def test_cancelled_inputs_are_dropped_and_never_taken():
    q = LengthQueue()
    items = [WorkItem([1] * 10, None) for _ in range(10)]
    q.push(items)
    for it in items[::2]:
        it.future.cancel()
    batch, dropped = q.take(10**6, 100, 1.0)
    assert batch == items[1::2] and dropped == 5 and len(q) == 0
