"""fp16 and bf16 on CUDA against fp32 on the same GPU, same stand-in models, same inputs.

Tolerances (stated, not tuned on a GPU): calibrated on the CPU with the `small` stand-ins cast to half
precision, where fp16 gave dense cosine >= 0.9990, ColBERT row cosine >= 0.996, sparse weights within 0.063
(largest weight 1.56) and reranker logits within 0.72 (logits in -5..2.4); bf16 about 4x those. Randomly
initialised weights (std 0.2) make these far looser than the real bge-m3's, so the bounds below leave that
room; the device check records the measured numbers (gpu-tests.jsonl) so the first GPU run shows the real ones.
"""

from __future__ import annotations

import numpy as np
import pytest

from local_server.engine.runtime import M3Runtime, RerankerRuntime
from local_server.engine.types import EmbedNeeds

TEXTS = ["The capital of France is Paris.", "人工智能正在改变世界。", "Hello, world!",
         "Dense vectors capture meaning, sparse weights capture exact words. " * 40]
QUERY = "What is the capital of France?"
DOCS = ["The capital of Brazil is Brasilia.", "The capital of France is Paris.", "Horses are animals.",
        "北京是中国的首都"]
# dense cosine, ColBERT row cosine (min), sparse weight abs diff, reranker logit abs diff
TOLERANCE = {"fp16": (0.998, 0.99, 0.1, 1.0), "bf16": (0.96, 0.9, 0.35, 2.5)}
NEEDS = EmbedNeeds(dense=True, sparse=True, colbert=True)


@pytest.fixture(scope="module")
def fp32(gpu_models):
    embedder = M3Runtime(str(gpu_models / "bge-m3"), "cuda:0", "fp32")
    reranker = RerankerRuntime(str(gpu_models / "bge-reranker-v2-m3"), "cuda:0", "fp32")
    ids = embedder.tokenizer.encode(TEXTS, max_length=8192, truncate=True)
    pairs = reranker.tokenizer.encode_pairs([(QUERY, d) for d in DOCS], max_length=8192, truncate=True)
    out = embedder.forward(ids, NEEDS), reranker.forward(pairs), ids, pairs
    del embedder, reranker
    return out


def test_auto_is_fp16_on_cuda(gpu_models):
    import torch

    assert M3Runtime(str(gpu_models / "bge-m3"), "cuda:0").dtype == torch.float16
    assert RerankerRuntime(str(gpu_models / "bge-reranker-v2-m3"), "cuda:0").dtype == torch.float16


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_half_precision_stays_close_to_fp32(gpu_models, fp32, dtype, record):
    want, want_logits, ids, pairs = fp32
    dense_tol, colbert_tol, sparse_tol, logit_tol = TOLERANCE[dtype]
    embedder = M3Runtime(str(gpu_models / "bge-m3"), "cuda:0", dtype)
    reranker = RerankerRuntime(str(gpu_models / "bge-reranker-v2-m3"), "cuda:0", dtype)
    assert str(embedder.dtype) == {"fp16": "torch.float16", "bf16": "torch.bfloat16"}[dtype]
    got = embedder.forward(ids, NEEDS)
    logits = reranker.forward(pairs)

    dense_cos = min(float(np.dot(g.dense, w.dense)) for g, w in zip(got, want, strict=True))
    colbert_cos = min(float((g.colbert * w.colbert).sum(-1).min()) for g, w in zip(got, want, strict=True))
    sparse_diff = max(abs(g.sparse.get(k, 0.0) - v) for g, w in zip(got, want, strict=True)
                      for k, v in w.sparse.items())
    logit_diff = max(abs(a - b) for a, b in zip(logits, want_logits, strict=True))
    record(dtype=dtype, dense_cos_min=dense_cos, colbert_cos_min=colbert_cos, sparse_abs_max=sparse_diff,
           logit_abs_max=logit_diff)
    for g, w in zip(got, want, strict=True):
        assert g.dense.dtype == np.float32 and abs(float(np.linalg.norm(g.dense)) - 1) < 1e-3
        assert g.colbert.shape == w.colbert.shape
        assert all(np.isfinite(v) for v in g.sparse.values())
    assert dense_cos >= dense_tol
    assert colbert_cos >= colbert_tol
    assert sparse_diff <= sparse_tol
    assert logit_diff <= logit_tol
    # What users see: the same document ranks first.
    assert int(np.argmax(logits)) == int(np.argmax(want_logits))
