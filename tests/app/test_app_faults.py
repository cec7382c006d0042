"""Faults through the real app (in process, over httpx's ASGI transport, no lifespan): a fault in one input of
a shared batch fails only its own request, with the right status; an unhandled error is answered with the
JSON 500 and logged exactly once, and never leaves the app (where uvicorn would log it again)."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
import torch

from local_server.config import Settings
from local_server.engine.batcher import Batcher
from local_server.engine.core import InferenceCore
from local_server.engine.runtime import M3Runtime, Runtime
from local_server.engine.types import EMBEDDING, EmbedNeeds, ServedModel
from local_server.server.app import create_app


class Faulty(Runtime):
    """The real runtime, except that any batch holding ``poison`` fails (as a broken kernel or a bad weight
    would), with a CUDA out-of-memory when ``oom``."""

    def __init__(self, inner: Runtime, poison: list[int], oom: bool = False):
        self.inner, self.poison, self.oom = inner, poison, oom
        self.device, self.dtype, self.max_positions = inner.device, inner.dtype, inner.max_positions
        self.batch_sizes: list[int] = []

    def forward(self, batch, needs):
        self.batch_sizes.append(len(batch))
        if self.poison in batch:
            if self.oom:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected by the test)")
            raise RuntimeError("injected fault: the model breaks on this input")
        return self.inner.forward(batch, needs)


def _app(m3: M3Runtime, runtime: Runtime, batch_size: int):
    """The app over a core whose embedder runs ``runtime``; its first batch waits for ``batch_size`` inputs."""
    settings = Settings(reranker_model=None)
    core = InferenceCore(settings)
    batcher = Batcher(EMBEDDING, [runtime], max_batch_tokens=10**6, max_batch_size=batch_size, wait_s=600,
                      max_queue=100, merge_needs=EmbedNeeds.union)
    core.models.add(ServedModel(kind=EMBEDDING, names=["bge-m3"], path="tiny", max_length=8192, batcher=batcher,
                                tokenizer=m3.tokenizer, devices=["cpu"], dtype="float32",
                                dimension=m3.hidden_size))
    core.ready = True
    return create_app(settings, core=core), core


async def _post_together(app, bodies: list[dict]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)  # raises whatever leaves the app
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        return list(await asyncio.gather(*(client.post("/v1/embeddings", json=b) for b in bodies)))


@pytest.mark.parametrize(("oom", "status", "code"), [(False, 500, "inference_failed"), (True, 503, "out_of_memory")])
def test_a_faulty_input_fails_only_its_own_request(m3, oom, status, code):
    poison_text = "the input that breaks the model"
    tokenizer = m3.tokenizer
    poison, two = tokenizer.encode([poison_text, "two"], max_length=8192, truncate=True)
    runtime = Faulty(m3, poison, oom=oom)
    app, core = _app(m3, runtime, batch_size=4)
    try:
        good, bad = asyncio.run(_post_together(app, [{"input": ["one", "two", "three"]},
                                                     {"input": poison_text}]))
    finally:
        core.close()
    assert runtime.batch_sizes[0] == 4  # both requests were in the batch that failed
    assert bad.status_code == status and bad.json()["error"]["code"] == code
    if not oom:
        assert "injected fault" in bad.json()["error"]["message"]
    assert good.status_code == 200
    alone = m3.forward([two], EmbedNeeds())[0].dense
    assert good.json()["data"][1]["embedding"] == pytest.approx(alone.tolist(), abs=1e-5)


def test_an_unhandled_error_is_answered_and_logged_once(m3, caplog):
    app, core = _app(m3, m3, batch_size=1)

    @app.get("/boom")
    async def boom() -> None:
        raise ValueError("a bug")

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
            return await client.get("/boom")

    with caplog.at_level(logging.ERROR):
        resp = asyncio.run(call())  # an exception leaving the app would be raised here
    core.close()
    assert resp.status_code == 500
    assert resp.json()["error"] == {"message": "internal error: ValueError", "type": "server_error",
                                    "code": "internal_error"}
    assert resp.headers["x-request-id"]
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[1] is not None]
    assert len(logged) == 1 and "GET /boom" in logged[0].getMessage()
