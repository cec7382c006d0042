"""Haystack: the Hugging Face API (TEI) embedders — dense, documents, sparse — and ranker, and the Jina and
Cohere integrations, driven for real."""

from __future__ import annotations

import pytest
from drivers._common import DOCS, QUERY, TEXTS
from support.client_checks import assert_ranking, assert_vectors, own_sparse, scenario

DRIVER = "haystack_clients"


@pytest.mark.parametrize("name", ["tei_text", "tei_text_model_url", "jina_text", "cohere_text"])
def test_text_embedders(drive, server, name):
    assert_vectors(server, scenario(drive, DRIVER, name)["vectors"], TEXTS[:1])


def test_tei_document_embedder(drive, server):
    assert_vectors(server, scenario(drive, DRIVER, "tei_documents")["vectors"], TEXTS)


def test_tei_sparse_embedder(drive, server):
    (got,) = scenario(drive, DRIVER, "tei_sparse")["sparse"]
    want = own_sparse(server, TEXTS[:1])[0]
    assert dict(zip(got["indices"], got["values"], strict=True)) == pytest.approx(want, abs=1e-6)


@pytest.mark.parametrize(("name", "top_n"), [("tei_ranker", 3), ("jina_ranker", 3), ("cohere_ranker", 2)])
def test_rankers(drive, server, name, top_n):
    assert_ranking(server, scenario(drive, DRIVER, name)["ranking"], QUERY, DOCS, top_n=top_n)
