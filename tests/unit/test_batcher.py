"""The batcher on the real bge-m3 runtime (tiny model, in this process): batches respect the padding cap and
the token budget, and every input gets exactly the result it gets alone."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest

from local_server.engine.batcher import Batcher
from local_server.engine.runtime import M3Runtime, Runtime
from local_server.engine.types import EmbedNeeds


class RecordingRuntime(Runtime):
    """The real runtime, recording each forward pass's (inputs, tokens, padded tokens) as the batcher formed it."""

    def __init__(self, inner: M3Runtime):
        self.inner = inner
        self.device = inner.device
        self.batches: list[tuple[int, int, int]] = []
        self._lock = threading.Lock()

    def forward(self, batch: list[list[int]], needs: EmbedNeeds) -> list:
        with self._lock:
            self.batches.append((len(batch), sum(map(len, batch)), max(map(len, batch)) * len(batch)))
        return self.inner.forward(batch, needs)

    def release_memory(self) -> None:
        self.inner.release_memory()


@pytest.fixture(scope="module")
def runtime(m3):
    return m3  # the session's runtime (tests/conftest.py): loaded once per test run


@pytest.mark.parametrize("max_padding", [0.1, 0.5, 1.0])
def test_padding_cap_and_budget_hold_and_results_are_exact(runtime, max_padding):
    rng = random.Random(3)
    tok = runtime.tokenizer
    texts = [" ".join(["retrieval"] * rng.choice([1, 3, 10, 40, 120])) + f" {i}" for i in range(120)]
    ids = tok.encode(texts, max_length=8192, truncate=True)
    recording = RecordingRuntime(runtime)
    batcher = Batcher("embedding", [recording], max_batch_tokens=2048, max_batch_size=32, wait_s=0.05,
                      max_queue=1000, merge_needs=EmbedNeeds.union, max_padding=max_padding)
    try:
        futures = batcher.submit(ids, EmbedNeeds(dense=True, sparse=True))
        got = [f.result(timeout=120) for f in futures]
    finally:
        batcher.close()
    batches = recording.batches
    assert sum(b[0] for b in batches) == len(texts)
    stats = batcher.stats()
    assert (stats.batches, stats.inputs) == (len(batches), len(texts))
    assert stats.tokens == sum(b[1] for b in batches) and stats.padded_tokens == sum(b[2] for b in batches)
    for inputs, tokens, padded in batches:
        assert inputs == 1 or padded <= 2048
        assert inputs == 1 or padded - tokens <= max_padding * padded + 1e-9
    if max_padding < 1.0:
        assert len(batches) > 4  # the cap really split mixed lengths apart
    for i in rng.sample(range(len(texts)), 15):
        alone = runtime.forward([ids[i]], EmbedNeeds(dense=True, sparse=True))[0]
        np.testing.assert_allclose(got[i].dense, alone.dense, atol=1e-5)
        assert got[i].sparse.keys() == alone.sparse.keys()
