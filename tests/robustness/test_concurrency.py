"""Concurrent requests with different truncation settings: each answer equals the same request served alone.

The server tokenizes off the event loop, so requests with different settings (embeddings truncated at 8192,
``/tokenize`` without truncation, rerank queries cut at 3/4 of the limit, TEI ``truncate: false``, the seed
``/embed``'s own ``max_length``) run their tokenization at the same time. None of them may change another's
token count or vector, and none may fail.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

# Words of several scripts, so the tiny tokenizer cuts them into a few pieces each.
WORDS = ["retrieval", "dense", "sparse", "colbert", "vector", "query", "document", "passage", "人工智能", "检索",
         "模型", "capital", "France", "Übersetzung", "naïve", "embedding"]

CLIENTS = 16
ROUNDS = 5  # requests per client: 80 in all, each kind 16 times


def _text(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


@dataclass(frozen=True)
class Job:
    """One kind of request: where it goes, its body, and what of the answer must not change."""

    name: str
    path: str
    body: dict[str, Any]
    read: Callable[[Any], tuple[Any, list[np.ndarray]]]  # answer -> (exact part, vectors/scores)


def _jobs() -> list[Job]:
    rng = random.Random(11)
    long_text = _text(rng, 30_000)  # far past 8192 tokens: truncated
    mid_text = _text(rng, 3_000)  # past 6144 tokens: a rerank query is cut at 3/4 of the limit
    document = _text(rng, 3_000)
    return [
        Job("embeddings truncated to 8192", "/v1/embeddings", {"input": [long_text, "short one"]},
            lambda a: (a["usage"]["prompt_tokens"], [np.array(d["embedding"]) for d in a["data"]])),
        Job("tokenize without truncation", "/tokenize", {"prompt": mid_text},
            lambda a: ((a["count"], a["tokens"]), [])),
        Job("rerank with the query cut at 3/4", "/v1/rerank", {"query": mid_text, "documents": [document, "tiny"]},
            lambda a: (a["usage"]["total_tokens"],
                       [np.array([r["relevance_score"] for r in sorted(a["results"], key=lambda r: r["index"])])])),
        Job("TEI embed, truncate false", "/embed", {"inputs": ["a short text", "another one"], "truncate": False},
            lambda a: (len(a), [np.array(v) for v in a])),
        Job("seed embed, max_length 24", "/embed", {"texts": [mid_text, "short"], "max_length": 24},
            lambda a: (a["usage"]["total_tokens"], [np.array(v) for v in a["embeddings"]])),
    ]


async def _ask(client: httpx.AsyncClient, job: Job) -> tuple[int, Any]:
    response = await client.post(job.path, json=job.body)
    return response.status_code, response.json()


def test_concurrent_mixed_truncation_settings_equal_each_request_alone(server):
    jobs = _jobs()

    async def run() -> tuple[list[tuple[int, Any]], list[list[tuple[int, Any]]]]:
        async with httpx.AsyncClient(base_url=server.url, timeout=300,
                                     limits=httpx.Limits(max_connections=CLIENTS)) as client:
            alone = [await _ask(client, job) for job in jobs]

            async def one_client(c: int) -> list[tuple[int, Any]]:
                # Each client walks through every kind, starting at a different one, so all kinds overlap.
                return [await _ask(client, jobs[(c + r) % len(jobs)]) for r in range(ROUNDS)]

            together = await asyncio.gather(*(one_client(c) for c in range(CLIENTS)))
            return alone, together

    alone, together = asyncio.run(run())
    for job, (status, answer) in zip(jobs, alone, strict=True):
        assert status == 200, f"{job.name} alone: {status} {answer}"
    expected = [job.read(answer) for job, (_, answer) in zip(jobs, alone, strict=True)]

    failures: list[str] = []
    for c, answers in enumerate(together):
        for r, (status, answer) in enumerate(answers):
            k = (c + r) % len(jobs)
            job = jobs[k]
            if status != 200:
                error = answer.get("error", answer) if isinstance(answer, dict) else answer
                failures.append(f"{job.name}: {status} {error}")
                continue
            exact, vectors = job.read(answer)
            want_exact, want_vectors = expected[k]
            if exact != want_exact:
                shown = exact if not isinstance(exact, tuple) else exact[0]
                wanted = want_exact if not isinstance(want_exact, tuple) else want_exact[0]
                failures.append(f"{job.name}: token count {shown} instead of {wanted} alone")
                continue
            for got, want in zip(vectors, want_vectors, strict=True):
                if not np.allclose(got, want, atol=1e-5):
                    failures.append(f"{job.name}: result differs from alone by {np.abs(got - want).max():.3g}")
                    break
    total = CLIENTS * ROUNDS
    assert not failures, f"{len(failures)} of {total} concurrent requests went wrong:\n" + "\n".join(failures)
    assert httpx.get(server.url + "/health").status_code == 200
