"""Two replicas of each model on one GPU (`--device cuda:0,cuda:0`), through the real server."""

from __future__ import annotations

import concurrent.futures

import httpx
import numpy as np
from support.server import ServerProcess

from local_server.engine.runtime import M3Runtime
from local_server.engine.types import EmbedNeeds

TEXTS = [f"document number {i}: " + "retrieval augmented generation " * (1 + i % 7) for i in range(64)]


def test_two_replicas_on_one_gpu_serve_concurrent_requests(gpu_models, tmp_path, record):
    with ServerProcess(gpu_models, "--device", "cuda:0,cuda:0", log_dir=tmp_path) as server:
        info = httpx.get(server.url + "/health", timeout=10).json()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            bodies = list(pool.map(lambda t: httpx.post(server.url + "/v1/embeddings", json={"input": t},
                                                        timeout=120).json(), TEXTS))
            ranked = list(pool.map(lambda t: httpx.post(server.url + "/v1/rerank", json={
                "query": "retrieval", "documents": [t, "horses"]}, timeout=120).json(), TEXTS[:16]))
        log = server.log()
    assert info["ready"]
    assert "cuda:0, cuda:0" in log, "both replicas load (the start-up line names each device)"
    # The same numbers as one fp16 replica in this process (up to half-precision batching noise).
    embedder = M3Runtime(str(gpu_models / "bge-m3"), "cuda:0")
    want = embedder.forward(embedder.tokenizer.encode(TEXTS[:8], max_length=8192, truncate=True), EmbedNeeds())
    cos = [float(np.dot(b["data"][0]["embedding"], w.dense)) for b, w in zip(bodies, want, strict=False)]
    record(replicas=2, dense_cos_min_vs_one_replica=min(cos))
    assert min(cos) > 0.999
    assert all(len(r["results"]) == 2 for r in ranked)
