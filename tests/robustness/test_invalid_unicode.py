"""Text that is not valid Unicode, anywhere in any body, gets a 400 that names the field, on every route.

JSON can carry a lone UTF-16 surrogate as the escape ``\\ud800``; bodies here are written by hand so the escape
reaches the server as it is, and once as raw bytes (the UTF-8 encoding of a surrogate, which is not UTF-8).
"""

from __future__ import annotations

import httpx
import pytest

LONE = "\\ud800"  # as written inside the JSON text
PAIR = "\\ud83d\\ude00"  # a valid surrogate pair: 😀

CASES = [
    # (route, JSON body with a lone surrogate, the field the message must name)
    ("/v1/embeddings", f'{{"input": "a{LONE}b"}}', "input"),
    ("/v1/embeddings", f'{{"input": ["fine", "bad {LONE}"]}}', "input[1]"),
    ("/v1/embeddings", f'{{"input": "fine", "model": "bge-m3{LONE}"}}', "model"),
    ("/v1/embeddings", f'{{"input": "fine", "user": "{LONE}"}}', "user"),
    ("/v1/embeddings", f'{{"input": "fine", "an_unknown_field": ["x", "{LONE}"]}}', "an_unknown_field[1]"),
    ("/v1/embeddings", f'{{"input": "fine", "{LONE}": 1}}', "a field name"),
    ("/embed", f'{{"inputs": ["{LONE}"]}}', "inputs[0]"),
    ("/embed", f'{{"texts": ["ok", "{LONE}"], "mode": "sparse"}}', "texts[1]"),
    ("/embed_sparse", f'{{"inputs": "{LONE}"}}', "inputs"),
    ("/v1/rerank", f'{{"query": "{LONE}", "documents": ["a"]}}', "query"),
    ("/v1/rerank", f'{{"query": "q", "documents": ["a", {{"text": "{LONE}"}}]}}', "documents[1].text"),
    ("/rerank", f'{{"query": "q", "texts": ["{LONE}"]}}', "texts[0]"),
    ("/v2/rerank", f'{{"query": "q", "documents": ["a"], "model": "{LONE}"}}', "model"),
    ("/score", f'{{"text_1": "q", "text_2": ["a", "{LONE}"]}}', "text_2[1]"),
    ("/tokenize", f'{{"inputs": "{LONE}"}}', "inputs"),
    ("/tokenize", f'{{"prompt": ["{LONE}"]}}', "prompt[0]"),
    ("/v1/embeddings", f'"{LONE}"', "the body"),
]


@pytest.mark.parametrize(("path", "body", "field"), CASES, ids=[f"{c[0]} {c[2]}" for c in CASES])
def test_lone_surrogate_is_refused_naming_the_field(server, path, body, field):
    resp = httpx.post(server.url + path, content=body.encode("ascii"), headers={"content-type": "application/json"})
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "invalid_unicode" and field in error["message"], error


def test_surrogate_as_raw_bytes_is_refused_too(server):
    body = b'{"input": ["ok", "\xed\xa0\x80"]}'  # what a careless encoder writes for "\ud800"
    resp = httpx.post(server.url + "/v1/embeddings", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 400 and "input[1]" in resp.json()["error"]["message"]


def test_valid_surrogate_pairs_and_escaped_text_are_served(server):
    body = f'{{"input": ["emoji {PAIR}", "a backslash-u written out: \\\\ud800", "\\u4eba\\u5de5"]}}'
    resp = httpx.post(server.url + "/v1/embeddings", content=body.encode("ascii"),
                      headers={"content-type": "application/json"})
    assert resp.status_code == 200 and len(resp.json()["data"]) == 3


def test_token_ids_that_decode_to_broken_utf8_are_served(server, cl100k_dir, monkeypatch):
    """cl100k token ids may end inside a character; the decoded text replaces the broken bytes (U+FFFD)
    instead of carrying invalid Unicode further."""
    import tiktoken

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cl100k_dir))  # the server's copy; never downloaded
    encoding = tiktoken.get_encoding("cl100k_base")
    half_character = encoding.encode_single_token(b"\xe4")  # the first byte of a three-byte character
    ids = [*encoding.encode("broken at the end: "), half_character]
    resp = httpx.post(server.url + "/v1/embeddings", json={"input": [ids]})
    assert resp.status_code == 200, resp.text
    tokenized = httpx.post(server.url + "/tokenize", json={"prompt": encoding.decode([half_character])})
    assert tokenized.status_code == 200 and tokenized.json()["count"] > 0
