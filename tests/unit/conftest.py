"""The tokenizer fixtures the tokenization tests share: transformers' (the reference) and the server's own."""

from __future__ import annotations

import pytest

from local_server.engine.tokenization import ModelTokenizer


@pytest.fixture(scope="module")
def hf(tiny_models):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_models / "bge-m3"))


@pytest.fixture(scope="module")
def tok(tiny_models) -> ModelTokenizer:
    """What the server uses: tokenizer.json through the tokenizers library, no transformers."""
    return ModelTokenizer.from_directory(tiny_models / "bge-m3")
