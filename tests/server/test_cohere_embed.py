"""Cohere's embed and tokenize dialects, with the real cohere SDK (v1 ``Client`` and ``ClientV2``).

``/embed`` is shared by three dialects, told apart by the body: TEI's ``inputs``, the seed guide's
``texts`` + ``mode``, and Cohere's ``texts`` (+ ``input_type`` / ``embedding_types`` / ``truncate``).
``/tokenize`` likewise: TEI's ``inputs``, vLLM's ``prompt``, Cohere's ``text`` (with ``token_strings``).
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from support.inprocess import serve_in_process

TEXTS = ["The capital of France is Paris.", "巴黎是法国的首都。"]
ALL_TYPES = ["float", "int8", "uint8", "binary", "ubinary"]


def dense(server, texts: list[str]) -> np.ndarray:
    body = httpx.post(server.url + "/v1/embeddings", json={"input": texts}, timeout=60).json()
    return np.array([d["embedding"] for d in body["data"]])


def test_cohere_v1_client_embed_floats(server):
    import cohere

    out = cohere.Client(api_key="x", base_url=server.url).embed(texts=TEXTS, model="bge-m3",
                                                                input_type="search_document")
    assert out.response_type == "embeddings_floats" and out.texts == TEXTS
    np.testing.assert_allclose(out.embeddings, dense(server, TEXTS), atol=1e-6)
    tokens = httpx.post(server.url + "/v1/embeddings", json={"input": TEXTS}).json()["usage"]["total_tokens"]
    assert out.meta.billed_units.input_tokens == tokens


def test_cohere_v1_client_embedding_types(server):
    import cohere

    out = cohere.Client(api_key="x", base_url=server.url).embed(texts=TEXTS, model="bge-m3",
                                                                input_type="search_query", embedding_types=ALL_TYPES)
    assert out.response_type == "embeddings_by_type"
    floats = np.array(out.embeddings.float_)
    np.testing.assert_allclose(floats, dense(server, TEXTS), atol=1e-6)
    check_quantized(floats, out.embeddings)


def check_quantized(floats: np.ndarray, by_type) -> None:
    int8, uint8 = np.array(by_type.int8), np.array(by_type.uint8)
    assert int8.shape == floats.shape and int8.min() >= -128 and int8.max() <= 127
    np.testing.assert_array_equal(uint8, int8 + 128)
    for q, f in zip(int8, floats, strict=True):  # int8 keeps the direction: cosine close to 1
        assert np.dot(q, f) / (np.linalg.norm(q) * np.linalg.norm(f)) > 0.99
    bits = np.packbits(floats > 0, axis=1)
    np.testing.assert_array_equal(np.array(by_type.ubinary), bits)
    np.testing.assert_array_equal(np.array(by_type.binary), bits.astype(np.int16) - 128)


def test_cohere_v2_client_embed(server):
    import cohere

    out = cohere.ClientV2(api_key="x", base_url=server.url).embed(
        texts=TEXTS, model="bge-m3", input_type="search_document", embedding_types=["float", "int8", "ubinary"])
    np.testing.assert_allclose(out.embeddings.float_, dense(server, TEXTS), atol=1e-6)
    assert out.embeddings.binary is None and len(out.embeddings.int8) == 2
    assert len(out.embeddings.ubinary[0]) == len(out.embeddings.float_[0]) // 8


def test_v2_base64_is_little_endian_float32(server):
    body = httpx.post(server.url + "/v2/embed", json={"texts": TEXTS[:1], "model": "bge-m3",
                                                      "input_type": "search_query",
                                                      "embedding_types": ["base64"]}).json()
    import base64

    raw = base64.b64decode(body["embeddings"]["base64"][0])
    np.testing.assert_allclose(np.frombuffer(raw, "<f4"), dense(server, TEXTS[:1])[0], atol=1e-6)


def test_unknown_embedding_type_is_a_clear_400(server):
    resp = httpx.post(server.url + "/v1/embed", json={"texts": ["a"], "embedding_types": ["float", "int4"]})
    assert resp.status_code == 400 and "int4" in resp.json()["error"]["message"]


def test_cohere_tokenize_and_detokenize(server):
    import cohere

    client = cohere.Client(api_key="x", base_url=server.url)
    text = "Tokens, please: 东京 and Kyoto!"
    out = client.tokenize(text=text, model="bge-m3")
    assert "".join(out.token_strings) == text  # the Dify plugin re-joins them into the text it embeds
    assert len(out.tokens) == len(out.token_strings)
    ascii_text = "Tokens, please: Kyoto and Osaka!"  # (the tiny test tokenizer lacks most CJK pieces)
    again = client.tokenize(text=ascii_text, model="bge-m3")
    assert client.detokenize(tokens=again.tokens, model="bge-m3").text == ascii_text


def test_tokenize_shapes_stay_apart(server):
    vllm = httpx.post(server.url + "/tokenize", json={"prompt": "hello world"}).json()
    tei = httpx.post(server.url + "/tokenize", json={"inputs": "hello world"}).json()
    cohere_ = httpx.post(server.url + "/tokenize", json={"text": "hello world", "model": "bge-m3"}).json()
    assert vllm["count"] == len(vllm["tokens"]) == len(tei[0])  # both with the special tokens
    assert len(cohere_["tokens"]) == len(vllm["tokens"]) - 2  # Cohere's without them
    assert cohere_["token_strings"] and "count" not in cohere_


def test_embed_bodies_are_told_apart(server):
    tei = httpx.post(server.url + "/embed", json={"inputs": TEXTS}).json()
    seed = httpx.post(server.url + "/embed", json={"texts": TEXTS, "mode": "dense"}).json()
    cohere_ = httpx.post(server.url + "/embed", json={"texts": TEXTS, "input_type": "search_query"}).json()
    plain = httpx.post(server.url + "/embed", json={"texts": TEXTS}).json()
    want = dense(server, TEXTS)
    np.testing.assert_allclose(tei, want, atol=1e-6)
    np.testing.assert_allclose(seed["embeddings"], want, atol=1e-6)
    assert seed["mode"] == "dense" and "response_type" not in seed
    assert cohere_["response_type"] == "embeddings_floats" and cohere_["meta"]["billed_units"]["input_tokens"] > 0
    np.testing.assert_allclose(cohere_["embeddings"], want, atol=1e-6)
    # texts without mode or Cohere fields: readable by both (a bare list of vectors under "embeddings")
    np.testing.assert_allclose(plain["embeddings"], want, atol=1e-6)
    sparse = httpx.post(server.url + "/embed", json={"texts": TEXTS[:1], "mode": "sparse"}).json()
    assert isinstance(sparse["embeddings"][0], dict)


@pytest.fixture(scope="module")
def short_server(tiny_models):
    """A 24-token limit, so that truncation is easy to provoke (the app in this process)."""
    with serve_in_process(tiny_models, max_length=24) as client:
        yield client


def cohere_embed(client: httpx.Client, text: str, truncate: str | None) -> httpx.Response:
    body = {"texts": [text], "model": "bge-m3", "input_type": "search_document"}
    if truncate:
        body["truncate"] = truncate
    return client.post("/v1/embed", json=body)


def test_truncate_end_start_and_none(short_server):
    middle = " ".join(["alpha beta gamma delta"] * 10)  # far more than 24 tokens
    a, b = "Completely different opening words. ", "Another unrelated beginning here. "
    end = [cohere_embed(short_server, middle + x, "END").json()["embeddings"][0] for x in (a, b)]
    start = [cohere_embed(short_server, x + middle, "START").json()["embeddings"][0] for x in (a, b)]
    default = cohere_embed(short_server, middle + a, None).json()["embeddings"][0]
    assert end[0] == end[1] == default  # END drops the tail, where they differ
    assert start[0] == start[1]  # START drops the head, where they differ
    assert start[0] != end[0]
    too_long = cohere_embed(short_server, middle, "NONE")
    assert too_long.status_code in (400, 413) and "24" in too_long.json()["error"]["message"]
    bad = cohere_embed(short_server, "x", "MIDDLE")
    assert bad.status_code == 400
