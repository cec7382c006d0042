"""LlamaIndex's TEI, OpenAI, Cohere and Ollama embeddings and its Jina and Cohere rerankers, driven for real."""

from __future__ import annotations

import pytest
from drivers._common import DOCS, QUERY, TEXTS
from support.client_checks import assert_ranking, assert_vectors, scenario

DRIVER = "llamaindex_clients"


@pytest.mark.parametrize("name", ["tei", "openai", "cohere", "ollama"])
def test_embeddings(drive, server, name):
    result = scenario(drive, DRIVER, name)
    assert_vectors(server, result["vectors"], TEXTS)
    if "query" in result:
        assert_vectors(server, result["query"], TEXTS[:1])


def test_jina_rerank_keeps_every_node_text(drive, server):
    result = scenario(drive, DRIVER, "jina_rerank")
    assert_ranking(server, result["ranking"], QUERY, DOCS)
    assert result["texts"] == [DOCS[int(i)] for i, _ in result["ranking"]]


def test_cohere_rerank(drive, server):
    assert_ranking(server, scenario(drive, DRIVER, "cohere_rerank")["ranking"], QUERY, DOCS, top_n=2)
