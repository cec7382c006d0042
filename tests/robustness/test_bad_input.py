"""The table of bad inputs (the only one): each gets the right 4xx and a message that says what was wrong."""

from __future__ import annotations

import httpx
import pytest

CASES = [
    # (name, path, raw body or json, content type, status, words the message must contain)
    ("empty list", "/v1/embeddings", {"input": []}, None, 400, "must not be empty"),
    ("null input", "/v1/embeddings", {"input": None}, None, 400, "input"),
    ("nested lists of strings", "/v1/embeddings", {"input": [["a", "b"]]}, None, 400, "input"),
    ("mixed types", "/v1/embeddings", {"input": ["a", 1, None]}, None, 400, "input"),
    ("object input", "/v1/embeddings", {"input": {"text": "a"}}, None, 400, "input"),
    ("body is a list", "/v1/embeddings", ["a"], None, 400, "JSON object"),
    ("invalid JSON", "/v1/embeddings", b'{"input": "a",}', "application/json", 400, "not valid JSON"),
    ("invalid UTF-8", "/v1/embeddings", b'{"input": "\xff\xfe bad"}', "application/json", 400, "JSON"),
    ("plain text body", "/v1/embeddings", b"hello", "text/plain", 400, "not valid JSON"),
    ("empty body", "/v1/embeddings", b"", "application/json", 400, "JSON"),
    ("TEI empty inputs", "/embed", {"inputs": []}, None, 400, "must not be empty"),
    ("TEI null inputs", "/embed", {"inputs": None}, None, 400, "inputs"),
    ("seed texts of numbers", "/embed", {"texts": [1, 2]}, None, 400, "texts"),
    ("negative top_n", "/v1/rerank", {"query": "q", "documents": ["a"], "top_n": -3}, None, 400, "top_n"),
    ("huge top_n is clamped, not refused", "/v1/rerank", {"query": "q", "documents": ["a"], "top_n": 10**9},
     None, 200, ""),
    ("empty documents", "/v1/rerank", {"query": "q", "documents": []}, None, 400, "must not be empty"),
    ("null query", "/v1/rerank", {"query": None, "documents": ["a"]}, None, 400, "query"),
    ("documents and texts", "/v1/rerank", {"query": "q", "documents": ["a"], "texts": ["b"]}, None, 400,
     "exactly one"),
    ("documents of numbers", "/v1/rerank", {"query": "q", "documents": [1, 2]}, None, 400, "documents[0]"),
    ("string top_n that is not a number", "/v1/rerank", {"query": "q", "documents": ["a"], "top_n": "all"}, None,
     400, "top_n"),
    ("score with no text_2", "/score", {"text_1": "a"}, None, 400, "text_2"),
    ("tokenize with nothing", "/tokenize", {}, None, 400, "missing text"),
    ("max_length too small", "/embed", {"texts": ["a"], "max_length": 1}, None, 400, "max_length"),
    ("dimensions 1", "/v1/embeddings", {"input": "a", "dimensions": 1}, None, 400, "dimensions"),
    ("no input at all", "/v1/embeddings", {}, None, 400, "input"),
    ("unknown encoding_format", "/v1/embeddings", {"input": "x", "encoding_format": "int8"}, None, 400,
     "encoding_format"),
    ("JSON sent as a form (curl -d) is read as JSON", "/v1/embeddings", b'{"input": "x"}',
     "application/x-www-form-urlencoded", 200, ""),
    ("/embed with neither inputs nor texts", "/embed", {}, None, 400, "inputs"),
    ("unknown seed mode", "/embed", {"texts": ["a"], "mode": "hybrid"}, None, 400, "mode"),
    ("rerank without documents", "/rerank", {"query": "q"}, None, 400, "documents"),
    ("document object without text", "/rerank", {"query": "q", "documents": [{"title": "x"}]}, None, 400,
     "documents[0]"),
    ("rerank without query", "/rerank", {"documents": ["a"]}, None, 400, "query"),
    ("score lists of unequal length", "/score", {"text_1": ["a", "b"], "text_2": ["a", "b", "c"]}, None, 400,
     "text_1"),
]


@pytest.mark.parametrize(("name", "path", "body", "ctype", "status", "needle"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_table(server, name, path, body, ctype, status, needle):
    if isinstance(body, bytes):
        resp = httpx.post(server.url + path, content=body, headers={"content-type": ctype})
    else:
        resp = httpx.post(server.url + path, json=body)
    assert resp.status_code == status, resp.text
    if status >= 400:
        err = resp.json()
        assert needle in err["error"]["message"], err
        assert err["detail"] and err["error"]["type"] and err["error"]["code"]


def test_ten_megabyte_string_is_truncated_not_fatal(server):
    resp = httpx.post(server.url + "/v1/embeddings", json={"input": "word " * 2_000_000}, timeout=120)
    assert resp.status_code == 200
    assert resp.json()["usage"]["prompt_tokens"] == 8192


def test_unknown_model_in_default_mode_is_served_by_the_routes_model(server):
    resp = httpx.post(server.url + "/v1/rerank", json={"model": "no-such-model", "query": "q", "documents": ["a"]})
    assert resp.status_code == 200 and resp.json()["model"] == "bge-reranker-v2-m3"
    resp = httpx.post(server.url + "/v1/embeddings", json={"input": "x", "model": "text-embedding-3-small"})
    assert resp.status_code == 200 and resp.json()["model"] == "bge-m3"
