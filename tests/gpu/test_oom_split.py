"""A real torch.cuda.OutOfMemoryError splits the batch and every input still gets its exact result.

The replica's memory is capped (torch.cuda.set_per_process_memory_fraction) a few single-input forwards above
what the model holds, so a batch of 32 long inputs runs out of memory for real and the batcher halves it.
"""

from __future__ import annotations

import numpy as np
import pytest

from local_server.engine.batcher import Batcher
from local_server.engine.runtime import M3Runtime
from local_server.engine.types import EmbedNeeds


@pytest.fixture
def capped_runtime(gpu_models):
    import torch

    runtime = M3Runtime(str(gpu_models / "bge-m3"), "cuda:0")
    ids = runtime.tokenizer.encode(["long input " * 700], max_length=2048, truncate=True)[0]
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    held = torch.cuda.memory_allocated(0)
    torch.cuda.reset_peak_memory_stats(0)
    runtime.forward([ids], EmbedNeeds())
    one = torch.cuda.max_memory_allocated(0) - held
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.empty_cache()
    torch.cuda.set_per_process_memory_fraction(min(1.0, (held + 4 * one + (64 << 20)) / total), 0)
    try:
        yield runtime, ids, one
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, 0)
        torch.cuda.empty_cache()


def test_out_of_memory_splits_the_batch_and_every_input_gets_its_result(capped_runtime, record):
    import torch

    runtime, ids, one = capped_runtime
    inputs = [ids[: len(ids) - i] for i in range(32)]
    with pytest.raises(torch.cuda.OutOfMemoryError):
        runtime.forward(inputs, EmbedNeeds())  # the cap is real: the whole batch does not fit
    runtime.release_memory()
    batcher = Batcher("embedding", [runtime], max_batch_tokens=len(ids) * 64, max_batch_size=64, wait_s=0.2,
                      max_queue=1000)
    try:
        futures = batcher.submit(inputs, EmbedNeeds())
        results = [f.result(timeout=300) for f in futures]
    finally:
        batcher.close()
    stats = batcher.stats()
    record(one_input_bytes=one, oom_splits=stats.oom_splits, batches=stats.batches)
    assert stats.oom_splits >= 1
    for item, result in zip(inputs[:4], results[:4], strict=True):
        alone = runtime.forward([item], EmbedNeeds())[0]
        assert float(np.dot(alone.dense, result.dense)) > 0.999
