"""Out-of-memory recovery frees memory before it retries.

A runtime that holds real buffers against a memory budget while it "computes": each forward pass allocates one
activation per layer, two layers, each as many bytes per token as the batch holds. A batch too big for the budget
fails in its second layer while its first layer's buffer is alive, referenced by the frame of ``execute`` in the
exception's traceback. If the batcher retried inside its ``except`` block, that buffer would still be counted
against the budget and the halves (and, two levels down, a single input that fits alone) would fail too. The
buffers are freed by their finalizers only when nothing references them, so the runtime's own count is what is
really allocated.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np
import pytest
import torch

from local_server.engine.batcher import Batcher
from local_server.engine.runtime import Runtime

UNIT = 4096  # bytes per token per layer


class BudgetRuntime(Runtime):
    """Two layers of real buffers per forward pass, refused with a CUDA out-of-memory error above ``budget``."""

    device = "cuda:test"
    dtype = "float32"
    max_positions = 8194
    pad_id = 1

    def __init__(self, budget: int):
        self.budget = budget
        self.in_use = 0
        self.peak = 0
        self.released = 0
        self.batches: list[int] = []
        self._lock = threading.Lock()

    def _free(self, size: int) -> None:
        with self._lock:
            self.in_use -= size

    def _alloc(self, size: int) -> np.ndarray:
        with self._lock:
            if self.in_use + size > self.budget:
                raise torch.cuda.OutOfMemoryError(
                    f"CUDA out of memory. Tried to allocate {size} bytes ({self.in_use} of {self.budget} in use)")
            self.in_use += size
            self.peak = max(self.peak, self.in_use)
        buffer = np.ones(size, dtype=np.uint8)
        weakref.finalize(buffer, self._free, size)
        return buffer

    def execute(self, prepared: Any) -> Any:
        batch, _ = prepared
        self.batches.append(len(batch))
        size = sum(map(len, batch)) * UNIT
        first = self._alloc(size)  # alive in this frame when the second layer runs out of memory
        second = self._alloc(size)
        return [float(first[:1].sum() + second[:1].sum() + len(ids)) for ids in batch]

    def forward(self, batch: list[list[int]], needs: Any) -> list[Any]:
        prepared = self.prepare(batch, needs)
        return self.finish(prepared, self.execute(prepared))

    def release_memory(self) -> None:
        self.released += 1


@pytest.mark.parametrize(("inputs", "budget_tokens"), [(2, 3), (4, 5)], ids=["one-level", "two-levels"])
def test_inputs_that_fit_are_served_after_their_batch_ran_out_of_memory(inputs, budget_tokens):
    length = 64
    # one input needs 2 x length tokens' worth (two layers): it fits; the whole batch needs 2 x inputs x length
    runtime = BudgetRuntime(budget=budget_tokens * length * UNIT)
    before = runtime.in_use
    batcher = Batcher("test", [runtime], max_batch_tokens=10**6, max_batch_size=inputs, wait_s=600, max_queue=100)
    try:
        futures = batcher.submit([[5] * length for _ in range(inputs)], None)
        results = [f.result(timeout=60) for f in futures]
    finally:
        batcher.close()
    assert results == [2.0 + length] * inputs  # every input served, none refused with OutOfMemory
    assert runtime.batches[0] == inputs  # the whole batch ran first, and failed
    stats = batcher.stats()
    assert stats.oom_splits >= 1 and stats.failed_inputs == 0
    assert runtime.released >= 1  # the cache was freed before the halves ran
    assert runtime.peak <= runtime.budget
    assert runtime.in_use == before  # every buffer of the failed batch and of the retries is gone


def test_an_input_that_does_not_fit_alone_is_refused_and_frees_what_it_held():
    from local_server.engine.errors import OutOfMemory

    length = 64
    runtime = BudgetRuntime(budget=3 * length * UNIT)  # one input of 2 x length tokens does not fit
    batcher = Batcher("test", [runtime], max_batch_tokens=10**6, max_batch_size=2, wait_s=600, max_queue=100)
    try:
        small, big = batcher.submit([[5] * length, [5] * (2 * length)], None)
        assert small.result(timeout=60) == 2.0 + length
        assert isinstance(big.exception(timeout=60), OutOfMemory)
    finally:
        batcher.close()
    assert runtime.in_use == 0


class StageFaulty(Runtime):
    """A runtime with three real stages that fails in ``stage`` on any batch holding ``poison``."""

    device = "cpu"
    dtype = "float32"
    max_positions = 8194
    pad_id = 1

    def __init__(self, stage: str, poison: list[int]):
        self.stage, self.poison = stage, poison

    def _check(self, stage: str, batch: list[list[int]]) -> None:
        if stage == self.stage and self.poison in batch:
            raise RuntimeError(f"injected fault in {stage}")

    def prepare(self, batch, needs):
        self._check("prepare", batch)
        return batch

    def execute(self, prepared):
        self._check("execute", prepared)
        return np.array([len(ids) for ids in prepared])

    def finish(self, prepared, executed):
        self._check("finish", prepared)
        return [int(x) for x in executed]

    def forward(self, batch, needs):
        prepared = self.prepare(batch, needs)
        return self.finish(prepared, self.execute(prepared))


@pytest.mark.parametrize("stage", ["prepare", "execute", "finish"])
def test_a_failure_in_any_stage_fails_only_its_input_and_close_ends_every_thread(stage):
    from local_server.engine.errors import InferenceFailed

    inputs = [[7] * n for n in range(2, 12)]
    runtime = StageFaulty(stage, poison=inputs[3])
    batcher = Batcher("test", [runtime], max_batch_tokens=10**6, max_batch_size=len(inputs), wait_s=600,
                      max_queue=100)
    try:
        futures = batcher.submit(inputs, None)
        outcomes = [f.exception(timeout=60) or f.result() for f in futures]
        assert batcher.healthy()
    finally:
        batcher.close()
    assert isinstance(outcomes[3], InferenceFailed) and f"injected fault in {stage}" in outcomes[3].message
    assert [o for i, o in enumerate(outcomes) if i != 3] == [len(x) for i, x in enumerate(inputs) if i != 3]
    assert batcher.stats().failed_inputs == 1
    assert not batcher.healthy()
    assert not any(t.is_alive() for r in batcher._replicas for t in r.threads)  # drained, then every stage ended


class Gate(Runtime):
    """Holds every batch holding ``held`` until ``gate`` opens; records which replica ran what."""

    dtype = "float32"
    max_positions = 8194
    pad_id = 1

    def __init__(self, name: str, gate: threading.Event, held: list[int], ran: list[tuple[str, int]]):
        self.device, self.gate, self.held, self.ran = name, gate, held, ran

    def forward(self, batch, needs):
        self.ran.append((self.device, len(batch)))
        if self.held in batch:
            assert self.gate.wait(60)
        return [len(ids) for ids in batch]


def test_a_free_replica_takes_the_next_batch_while_another_is_busy():
    gate, ran = threading.Event(), []
    held = [3] * 5
    replicas = [Gate(f"r{i}", gate, held, ran) for i in range(2)]
    batcher = Batcher("test", replicas, max_batch_tokens=10**6, max_batch_size=4, wait_s=0, max_queue=100)
    try:
        first = batcher.submit([held], None)[0]
        while not ran:  # the held batch is on one replica
            threading.Event().wait(0.01)
        for i in range(1, 6):  # a client's requests, one after another, served while the first replica is held
            assert batcher.submit([[4] * i], None)[0].result(timeout=60) == i
        busy = ran[0][0]
        assert all(device != busy for device, _ in ran[1:])
        gate.set()
        assert first.result(timeout=60) == 5
    finally:
        gate.set()
        batcher.close()
