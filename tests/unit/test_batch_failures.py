"""One input never fails another client's request: the batcher over the real runtimes (tiny models, in this
process), each wrapped by a test runtime that injects a fault — an error on one marked input, or a CUDA
out-of-memory above a padded-token size. Several requests share one batch; only the faulty input's request
gets an error, every other input gets exactly the result it gets alone."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from local_server.engine.batcher import Batcher
from local_server.engine.errors import InferenceFailed, OutOfMemory
from local_server.engine.runtime import M3Runtime, RerankerRuntime, Runtime
from local_server.engine.types import EmbedNeeds


class Faulty(Runtime):
    """The real runtime, except that a batch holding ``poison`` fails, and a batch of more than
    ``oom_above`` padded tokens runs out of memory. Records every batch it is given."""

    def __init__(self, inner: Runtime, *, poison: list[int] | None = None, oom_above: int | None = None):
        self.inner = inner
        self.device, self.dtype, self.max_positions = inner.device, inner.dtype, inner.max_positions
        self.tokenizer = inner.tokenizer
        self.poison = poison
        self.oom_above = oom_above
        self.batches: list[list[list[int]]] = []

    def forward(self, batch: list[list[int]], needs: Any) -> list[Any]:
        self.batches.append(batch)
        if self.poison is not None and self.poison in batch:
            raise RuntimeError("injected fault: the model breaks on this input")
        if self.oom_above is not None and len(batch) * max(map(len, batch)) > self.oom_above:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected by the test)")
        return self.inner.forward(batch, needs)


@pytest.fixture(scope="module")
def m3(tiny_models) -> M3Runtime:
    return M3Runtime(str(tiny_models / "bge-m3"), "cpu")


@pytest.fixture(scope="module")
def reranker(tiny_models) -> RerankerRuntime:
    return RerankerRuntime(str(tiny_models / "bge-reranker-v2-m3"), "cpu")


def _ids(runtime: Runtime, texts: list[str]) -> list[list[int]]:
    return runtime.tokenizer.encode(texts, max_length=8192, truncate=True)


def _one_batch(runtime: Faulty, size: int) -> Batcher:
    """A batcher whose first batch runs once ``size`` inputs wait (the wait is far longer than the test)."""
    merge = EmbedNeeds.union if isinstance(runtime.inner, M3Runtime) else (lambda a, b: a)
    return Batcher("test", [runtime], max_batch_tokens=10**6, max_batch_size=size, wait_s=600, max_queue=1000,
                   merge_needs=merge)


def test_an_input_that_breaks_the_model_fails_only_its_own_request(m3):
    requests = [_ids(m3, [f"request {r} text {i} about retrieval" * (1 + i) for i in range(3)]) for r in range(4)]
    poison = requests[2][1]
    runtime = Faulty(m3, poison=poison)
    batcher = _one_batch(runtime, size=12)
    needs = EmbedNeeds(dense=True, sparse=True)
    try:
        futures = [batcher.submit(ids, needs) for ids in requests]  # four requests, one shared batch
        outcomes = [[f.exception(timeout=120) or f.result() for f in fs] for fs in futures]
    finally:
        batcher.close()
    assert len(runtime.batches[0]) == 12  # the fault struck a batch holding every request's inputs
    failed = outcomes[2][1]
    assert isinstance(failed, InferenceFailed)
    assert "RuntimeError" in failed.message and "injected fault" in failed.message
    for r, results in enumerate(outcomes):
        for i, got in enumerate(results):
            if (r, i) == (2, 1):
                continue
            alone = m3.forward([requests[r][i]], needs)[0]
            np.testing.assert_allclose(got.dense, alone.dense, atol=1e-5)
            assert got.sparse.keys() == alone.sparse.keys()
    assert batcher.stats().failed_inputs == 1


def test_a_pair_that_breaks_the_reranker_fails_only_its_own_request(reranker):
    tok = reranker.tokenizer
    pairs = tok.encode_pairs([(f"query {r}", f"document {i} " * (1 + i)) for r in range(3) for i in range(4)],
                             max_length=8192, truncate=True)
    runtime = Faulty(reranker, poison=pairs[5])
    batcher = _one_batch(runtime, size=len(pairs))
    try:
        futures = [batcher.submit(pairs[r * 4:(r + 1) * 4], None) for r in range(3)]
        outcomes = [f.exception(timeout=120) or f.result() for fs in futures for f in fs]
    finally:
        batcher.close()
    assert len(runtime.batches[0]) == len(pairs)
    assert isinstance(outcomes[5], InferenceFailed)
    others = [i for i in range(len(pairs)) if i != 5]
    alone = [reranker.forward([pairs[i]])[0] for i in others]
    np.testing.assert_allclose([outcomes[i] for i in others], alone, atol=1e-5)


def test_out_of_memory_splits_the_batch_and_refuses_only_an_input_that_cannot_fit(m3):
    texts = [f"sentence number {i} about retrieval" for i in range(24)]
    ids = _ids(m3, texts)
    too_big = _ids(m3, ["word " * 200])[0]
    limit = 4 * max(map(len, ids))  # batches of about four inputs fit
    runtime = Faulty(m3, oom_above=limit)
    batcher = _one_batch(runtime, size=len(ids) + 1)
    needs = EmbedNeeds(dense=True)
    try:
        futures = batcher.submit(ids, needs) + batcher.submit([too_big], needs)
        outcomes = [f.exception(timeout=120) or f.result() for f in futures]
    finally:
        batcher.close()
    refused = outcomes[-1]
    assert isinstance(refused, OutOfMemory) and "does not fit" in refused.message
    for i, got in enumerate(outcomes[:-1]):
        np.testing.assert_allclose(got.dense, m3.forward([ids[i]], needs)[0].dense, atol=1e-5)
    ran = [b for b in runtime.batches if len(b) * max(map(len, b)) <= limit]
    assert sum(len(b) for b in ran) == len(ids)  # every input ran exactly once, in batches that fit
    assert batcher.stats().oom_splits > 0
