"""Checks the client suite (tests/clients) shares: every client's numbers against the server's own answers."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import numpy as np
import pytest


def scenario(drive: Callable[[str], dict], driver: str, name: str) -> dict:
    result = drive(driver)[name]
    assert "error" not in result, f"{driver}.{name}: {result['error']}\n{result.get('trace', '')}"
    return result


# ---- the server's own answers, the reference every client's numbers must equal ------------------------------

def own_dense(server, texts: list[str]) -> np.ndarray:
    body = httpx.post(server.url + "/v1/embeddings", json={"input": texts}, timeout=60).json()
    return np.array([d["embedding"] for d in body["data"]])


def own_sparse(server, texts: list[str]) -> list[dict[int, float]]:
    body = httpx.post(server.url + "/v1/embeddings", json={"input": texts, "return_sparse": True,
                                                           "return_dense": False}, timeout=60).json()
    return [dict(zip(d["sparse_embedding"]["indices"], d["sparse_embedding"]["values"], strict=True))
            for d in body["data"]]


def own_scores(server, query: str, docs: list[str]) -> dict[int, float]:
    body = httpx.post(server.url + "/rerank", json={"query": query, "texts": docs}, timeout=60).json()
    return {r["index"]: r["score"] for r in body}


def assert_vectors(server, got: list[list[float]], texts: list[str]) -> None:
    got_array = np.array(got)
    want = own_dense(server, texts)
    assert got_array.shape == want.shape
    np.testing.assert_allclose(got_array, want, atol=1e-5)


def assert_ranking(server, ranking: list[list[float]], query: str, docs: list[str], top_n: int | None = None) -> None:
    """Best first, the length asked for, each score the server's own for that document."""
    want = own_scores(server, query, docs)
    order = sorted(want, key=want.__getitem__, reverse=True)[: top_n or len(docs)]
    assert [int(i) for i, _ in ranking] == order
    for index, score in ranking:
        assert score == pytest.approx(want[int(index)], abs=1e-5)
