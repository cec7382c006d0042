"""The plugin's predefined rerank model ``bge-m3-hybrid`` (bge-m3's own dense + sparse + ColBERT score), driven
the way Dify's daemon drives it, against the real server on the tiny models."""

from __future__ import annotations

import math

import httpx
import pytest
from plugin_harness import PluginError, PluginProcess

HYBRID = "bge-m3-hybrid"
QUERY = "Which animal lives in China?"
DOCS = [
    "Paris is the capital of France.",
    "The giant panda lives in the mountains of central China.",
    "Bananas are rich in potassium.",
    "大熊猫生活在中国四川的山区。",
]


def server_hybrid(url: str) -> list[tuple[int, float]]:
    r = httpx.post(f"{url}/v1/rerank", json={"model": HYBRID, "query": QUERY, "documents": DOCS}, timeout=60)
    r.raise_for_status()
    return [(x["index"], x["relevance_score"]) for x in r.json()["results"]]


def assert_same(got: dict, want: list[tuple[int, float]]) -> None:
    docs = got["docs"]
    assert [d["index"] for d in docs] == [i for i, _ in want]
    for d, (_, score) in zip(docs, want, strict=True):
        assert 0.0 <= d["score"] <= 1.0
        assert math.isclose(d["score"], score, abs_tol=1e-5)  # batching moves float32's last bits
        assert d["text"] == DOCS[d["index"]]


def test_the_predefined_hybrid_model_has_its_schema(plugin: PluginProcess) -> None:
    schema = plugin.schema("rerank", HYBRID, {})
    assert schema["model"] == HYBRID and schema["model_type"] == "rerank"
    assert "ColBERT" in schema["label"]["en_US"] and "cross-encoder" in schema["label"]["en_US"]
    assert "ColBERT" in schema["label"]["zh_Hans"] and "交叉编码器" in schema["label"]["zh_Hans"]


def test_rerank_with_the_hybrid_equals_the_servers_hybrid(plugin: PluginProcess, server, make_proxy) -> None:
    proxy = make_proxy(server.url)
    creds = {"server_url": proxy.url}
    assert plugin.validate_model("rerank", HYBRID, creds)["result"] is True
    got = plugin.rerank(HYBRID, creds, QUERY, DOCS, top_n=len(DOCS))
    assert_same(got, server_hybrid(server.url))
    # the request named the hybrid: the server scored with bge-m3, not with the cross-encoder
    reranks = [s.body for s in proxy.posts() if s.path.endswith("rerank")]
    assert reranks and all(b["model"] == HYBRID for b in reranks)


def test_an_embedder_only_server_reranks_with_the_hybrid(plugin: PluginProcess, embedder_only_server) -> None:
    got = plugin.rerank(HYBRID, {"server_url": embedder_only_server.url}, QUERY, DOCS, top_n=2)
    assert_same(got, server_hybrid(embedder_only_server.url)[:2])


def test_a_reranker_only_server_refuses_the_hybrid_clearly(plugin: PluginProcess, reranker_only_server) -> None:
    with pytest.raises(PluginError) as caught:
        plugin.rerank(HYBRID, {"server_url": reranker_only_server.url}, QUERY, DOCS, top_n=2)
    assert HYBRID in caught.value.message
    assert "Traceback" not in caught.value.message
