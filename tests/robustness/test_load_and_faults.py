"""Under load, faults and abandonment: results stay exact, nothing hangs, the server keeps serving."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import threading
import time

import httpx
import numpy as np
import pytest
from support.server import ServerProcess

WORDS = ["retrieval", "dense", "sparse", "colbert", "vector", "query", "document", "passage", "人工智能", "检索",
         "模型", "capital", "France"]


def _text(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def test_mixed_concurrent_load_equals_each_input_alone(server):
    """Dozens of concurrent clients, mixed dialects and sizes, bounded in time: zero errors, and every
    result equal to the same input computed alone."""
    rng = random.Random(7)
    jobs = []
    for i in range(120):
        kind = i % 5
        texts = [_text(rng, rng.choice([3, 20, 150, 600])) for _ in range(rng.choice([1, 1, 4, 16]))]
        jobs.append((kind, texts))

    async def call(client: httpx.AsyncClient, kind: int, texts: list[str]):
        if kind == 0:
            r = await client.post("/v1/embeddings", json={"input": texts})
            return [d["embedding"] for d in r.raise_for_status().json()["data"]]
        if kind == 1:
            r = await client.post("/embed", json={"inputs": texts})
            return r.raise_for_status().json()
        if kind == 2:
            r = await client.post("/v1/embeddings", json={"input": texts, "return_sparse": True,
                                                          "return_colbert_vecs": True, "encoding_format": "base64"})
            return [(d["sparse_embedding"], d["colbert_embedding"]) for d in r.raise_for_status().json()["data"]]
        if kind == 3:
            r = await client.post("/rerank", json={"query": texts[0], "documents": [*texts, "x"]})
            return sorted((x["index"], x["relevance_score"]) for x in r.raise_for_status().json()["results"])
        r = await client.post("/rerank", json={"query": texts[0], "texts": texts, "raw_scores": True})
        return sorted((x["index"], x["score"]) for x in r.raise_for_status().json())

    async def run_all():
        limits = httpx.Limits(max_connections=48)
        async with httpx.AsyncClient(base_url=server.url, timeout=120, limits=limits) as client:
            started = time.monotonic()
            concurrent = await asyncio.gather(*(call(client, k, t) for k, t in jobs))
            assert time.monotonic() - started < 300
            # The same work again, one input (or one pair) at a time, with nothing else running.
            alone = []
            for kind, texts in jobs:
                if kind in (3, 4):
                    alone.append(await call(client, kind, texts))
                else:
                    per_text = [(await call(client, kind, [t]))[0] for t in texts]
                    alone.append(per_text)
            return concurrent, alone

    concurrent, alone = asyncio.run(run_all())
    for (kind, _), got, want in zip(jobs, concurrent, alone, strict=True):
        if kind == 2:
            for (s1, c1), (s2, c2) in zip(got, want, strict=True):
                assert s1["indices"] == s2["indices"]
                np.testing.assert_allclose(s1["values"], s2["values"], atol=1e-5)
                assert len(c1) == len(c2)
        elif kind in (3, 4):
            assert [i for i, _ in got] == [i for i, _ in want]
            np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=1e-5)
        else:
            np.testing.assert_allclose(np.array(got), np.array(want), atol=1e-5)


def test_two_replicas_share_the_queue_and_agree(tiny_models, tmp_path):
    """--device cpu,cpu: one replica per device, batches go to whichever is free; results unchanged."""
    with ServerProcess(tiny_models, "--device", "cpu,cpu", log_dir=tmp_path) as proc:
        health = httpx.get(proc.url + "/health").json()
        assert health["models"][0]["devices"] == ["cpu", "cpu"]

        async def burst():
            async with httpx.AsyncClient(base_url=proc.url, timeout=60) as client:
                texts = [f"replica text {i} " * (1 + i % 30) for i in range(64)]
                rs = await asyncio.gather(*(client.post("/v1/embeddings", json={"input": t}) for t in texts))
                return texts, [r.json()["data"][0]["embedding"] for r in rs]

        texts, got = asyncio.run(burst())
        want = httpx.post(proc.url + "/v1/embeddings", json={"input": texts}, timeout=60).json()["data"]
        np.testing.assert_allclose(got, [d["embedding"] for d in want], atol=1e-5)


@pytest.fixture()
def slow_server(tiny_models, tmp_path):
    """One input per forward pass, so a large request takes seconds."""
    with ServerProcess(tiny_models, "--max-batch-size", "1", log_dir=tmp_path) as proc:
        yield proc


SLOW_BODY = {"input": ["retrieval " * 1500 + str(i) for i in range(150)]}


def _metrics(url: str) -> dict[str, float]:
    """Every sample of /metrics by its full name, labels included."""
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in httpx.get(url + "/metrics").text.splitlines() if line and not line.startswith("#")}


def _metric(url: str, name: str) -> float:
    return _metrics(url).get(name, 0.0)


def test_disconnected_clients_have_their_queued_work_dropped(slow_server):
    url = slow_server.url
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url + "/v1/embeddings", json=SLOW_BODY, timeout=httpx.Timeout(60, read=0.5))
    # Wait until the server is idle (the batch count stops moving), then count what ran.
    batches = -1.0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = _metric(url, 'bge_local_batch_size_count{model="embedding"}')
        if now == batches:
            break
        batches = now
    assert _metric(url, "bge_local_client_disconnects_total") == 1
    assert _metric(url, 'bge_local_requests_total{route="/v1/embeddings",status="499"}') == 1  # nginx's "client left"
    assert batches < len(SLOW_BODY["input"]) / 2, f"{batches} of the abandoned request's inputs still ran"
    started = time.monotonic()
    assert httpx.post(url + "/v1/embeddings", json={"input": "next"}, timeout=30).status_code == 200
    assert time.monotonic() - started < 20


def test_sigterm_drains_accepted_requests_then_exits(slow_server):
    result: dict = {}

    def long_request():
        body = {"input": SLOW_BODY["input"][:40]}
        result["response"] = httpx.post(slow_server.url + "/v1/embeddings", json=body, timeout=120)

    thread = threading.Thread(target=long_request)
    thread.start()
    time.sleep(1.0)  # the request is accepted and being computed
    slow_server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    try:
        late = httpx.post(slow_server.url + "/v1/embeddings", json={"input": "late"}, timeout=10)
        assert late.status_code == 503 and late.json()["error"]["code"] == "shutting_down"
    except httpx.ConnectError:
        pass  # the listening socket is already closed: refused, also fine
    thread.join(120)
    assert result["response"].status_code == 200
    assert len(result["response"].json()["data"]) == 40
    # uvicorn re-raises the signal once drained: exiting "by SIGTERM" is the clean exit systemd and Docker expect.
    assert slow_server.proc.wait(60) in (0, -signal.SIGTERM)


def test_bounded_queue_answers_429_with_retry_after(tiny_models, tmp_path):
    with ServerProcess(tiny_models, "--max-queue-inputs", "20", "--max-batch-size", "1", log_dir=tmp_path) as proc:
        async def flood():
            async with httpx.AsyncClient(base_url=proc.url, timeout=120) as client:
                body = {"input": ["queue " * 800] * 10}
                return await asyncio.gather(*(client.post("/v1/embeddings", json=body) for _ in range(8)))

        responses = asyncio.run(flood())
        codes = [r.status_code for r in responses]
        assert 429 in codes and 200 in codes and set(codes) <= {200, 429}
        refused = next(r for r in responses if r.status_code == 429)
        assert refused.headers["retry-after"] == "1"
        assert "max_queue_inputs" in refused.json()["error"]["message"]


def test_json_logs_carry_request_id_and_never_keys_or_bodies(tiny_models, tmp_path):
    with ServerProcess(tiny_models, "--api-key", "sk-very-secret", "--log-format", "json", log_dir=tmp_path) as proc:
        httpx.post(proc.url + "/v1/embeddings", json={"input": "confidential text"},
                   headers={"Authorization": "Bearer sk-very-secret", "X-Request-Id": "req-42"})
        httpx.post(proc.url + "/v1/embeddings", json={"input": "x"}, headers={"Authorization": "Bearer sk-wrong"})
        time.sleep(0.3)
        log = proc.log()
    assert "sk-very-secret" not in log and "sk-wrong" not in log and "confidential text" not in log
    access = [json.loads(line) for line in log.splitlines() if line.startswith("{") and '"bge_local.access"' in line]
    assert any(e["request_id"] == "req-42" and e["status"] == 200 for e in access)
    assert any(e["status"] == 401 for e in access)


def test_metrics_expose_the_promised_series(server):
    before = _metrics(server.url)
    answer = httpx.post(server.url + "/v1/embeddings/", json={"input": ["a", "b"]})
    assert answer.status_code == 200 and len(answer.headers["x-request-id"]) == 32
    assert httpx.post(server.url + "/v2/nothing-here", json={}).status_code == 404
    after = _metrics(server.url)
    for series in ("bge_local_requests_total", "bge_local_request_seconds_bucket", "bge_local_queue_depth",
                   "bge_local_batch_size_bucket", "bge_local_tokens_total"):
        assert any(name.startswith(series) for name in after), series
    assert after["bge_local_ready"] == 1.0

    def grew(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    # The trailing-slash request is counted under its route, the unknown path under "unmatched".
    assert grew('bge_local_requests_total{route="/v1/embeddings",status="200"}') == 1
    assert grew('bge_local_requests_total{route="unmatched",status="404"}') == 1
    assert grew('bge_local_tokens_total{model="embedding"}') == 6  # <s> a </s>, <s> b </s>
    assert grew('bge_local_forward_seconds_total{model="embedding"}') > 0
    assert grew('bge_local_forward_seconds_total{model="reranker"}') == 0
