"""The packed forward on the GPU: which attention kernel runs, that nothing is padded, and what a mixed batch
costs (recorded for the device check's report, never asserted as a time)."""

from __future__ import annotations

import numpy as np

from local_server.engine.runtime import M3Runtime, RerankerRuntime
from local_server.engine.types import EmbedNeeds

VARLEN_KERNELS = {"flash-attn", "torch-varlen", "nested-sdpa"}


def _mixed_batch(runtime: M3Runtime, count: int = 64) -> list[list[int]]:
    rng = np.random.default_rng(0)
    text = "retrieval augmented generation with packed attention " * 200
    ids = runtime.tokenizer.encode([text], max_length=8192, truncate=True)[0]
    return [ids[: int(n)] + ids[-1:] for n in rng.integers(8, 512, size=count)]


def test_the_varlen_kernels_run_and_nothing_is_padded(gpu_models, record):
    import torch

    for dtype in ("fp16", "bf16"):
        runtime = M3Runtime(str(gpu_models / "bge-m3"), "cuda:0", dtype)
        batch = _mixed_batch(runtime)
        prepared = runtime.prepare(batch, EmbedNeeds(dense=True, sparse=True, colbert=True))
        real = sum(map(len, batch))
        rectangle = len(batch) * max(map(len, batch))
        runtime.finish(prepared, runtime.execute(prepared))  # warm-up
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record(runtime.stream)
        for _ in range(5):
            runtime.forward(batch, EmbedNeeds(dense=True))
        end.record(runtime.stream)
        end.synchronize()
        ms = start.elapsed_time(end) / 5
        record(dtype=dtype, attention_backend=runtime.attention_backend, inputs=len(batch), tokens=real,
               computed_tokens=prepared.tokens, padding_share=1 - real / prepared.tokens,
               padded_rectangle_share=round(1 - real / rectangle, 3), ms_per_batch=round(ms, 2),
               tokens_per_s=round(real / ms * 1000))
        assert prepared.tokens == real
        assert runtime.attention_backend in VARLEN_KERNELS, runtime.attention_backend
        del runtime
        torch.cuda.empty_cache()


def test_the_reranker_runs_on_the_same_kernel(gpu_models, record):
    reranker = RerankerRuntime(str(gpu_models / "bge-reranker-v2-m3"), "cuda:0")
    pairs = [("capital of France", "Paris is the capital of France. " * n) for n in (1, 5, 40)]
    logits = reranker.forward(reranker.tokenizer.encode_pairs(pairs, max_length=8192, truncate=True))
    record(attention_backend=reranker.attention_backend, logits=logits)
    assert len(logits) == 3 and all(np.isfinite(logits))
    assert reranker.attention_backend in VARLEN_KERNELS
