"""LiteLLM: ``embedding`` and ``rerank`` with ``api_base`` for each provider prefix that takes one, driven for real.

Not here: ``infinity/`` rerank, which reads Infinity's own answer (``document`` as a bare string) where every other
client reads ``document.text`` on the same ``/rerank`` path — choose ``cohere/``, ``jina_ai/`` or ``hosted_vllm/``;
and ``huggingface/`` embeddings, which ask huggingface.co for the model's task first."""

from __future__ import annotations

import pytest
from drivers._common import DOCS, QUERY, TEXTS
from support.client_checks import assert_ranking, assert_vectors, scenario

DRIVER = "litellm_clients"


@pytest.mark.parametrize("provider", ["openai", "hosted_vllm", "infinity", "ollama", "cohere"])
def test_embedding(drive, server, provider):
    assert_vectors(server, scenario(drive, DRIVER, f"embedding_{provider}")["vectors"], TEXTS)


@pytest.mark.parametrize("provider", ["cohere", "jina", "hosted_vllm", "huggingface_tei"])
def test_rerank(drive, server, provider):
    assert_ranking(server, scenario(drive, DRIVER, f"rerank_{provider}")["ranking"], QUERY, DOCS)
