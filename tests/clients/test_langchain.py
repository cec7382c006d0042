"""LangChain's embedding and rerank classes that take a base URL, driven for real (drivers/langchain_clients.py)."""

from __future__ import annotations

import pytest
from drivers._common import DOCS, QUERY, TEXTS
from support.client_checks import assert_ranking, assert_vectors, scenario

DRIVER = "langchain_clients"


@pytest.mark.parametrize("name", ["community_infinity", "cohere_embeddings"])
def test_embeddings(drive, server, name):
    result = scenario(drive, DRIVER, name)
    assert_vectors(server, result["vectors"], TEXTS)
    if "query" in result:
        assert_vectors(server, result["query"], TEXTS[:1])


def test_community_ollama_embeds_with_its_instructions(drive, server):
    """langchain-community's OllamaEmbeddings prefixes "passage: " and "query: " itself (embed_instruction,
    query_instruction): the server embeds exactly what it is sent (/api/embeddings, one text per call)."""
    result = scenario(drive, DRIVER, "community_ollama")
    assert_vectors(server, result["vectors"], [f"passage: {t}" for t in TEXTS])
    assert_vectors(server, result["query"], [f"query: {TEXTS[0]}"])


def test_cohere_rerank(drive, server):
    assert_ranking(server, scenario(drive, DRIVER, "cohere_rerank")["ranking"], QUERY, DOCS)


def test_cohere_rerank_as_a_document_compressor(drive, server):
    assert_ranking(server, scenario(drive, DRIVER, "cohere_rerank_compressor")["ranking"], QUERY, DOCS, top_n=2)
