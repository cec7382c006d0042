"""colbert_format and sparse_format on every route that answers ColBERT or sparse output, through the real server
on the tiny models: each form decodes back to the float answer within its precision; bad values are 400s."""

from __future__ import annotations

import base64

import httpx
import numpy as np
import pytest

from local_server.engine.compact import CompactColbert, decode_colbert, encode_colbert, token_weights

TEXTS = ["What is the capital of France? The capital of France is Paris.", "人工智能正在改变世界。",
         "is this is it, this is"]
DTYPES = {"float": "<f4", "fp16": "<f2", "int8": "i1", "binary": "u1"}


def _post(server, path: str, body: dict) -> httpx.Response:
    return httpx.post(server.url + path, json=body, timeout=60)


@pytest.fixture(scope="module")
def full(server) -> dict:
    """The float answers every form is checked against: ColBERT rows, sparse ids and their token strings."""
    data = _post(server, "/v1/embeddings", {"input": TEXTS, "return_dense": False, "return_sparse_tokens": True,
                                            "return_colbert_vecs": True}).json()["data"]
    return {"colbert": [np.array(d["colbert_embedding"], np.float32) for d in data],
            "sparse": [d["sparse_embedding"] for d in data]}


def _check_colbert(form: str, got: np.ndarray, want: np.ndarray, scales: np.ndarray | None) -> None:
    """``got`` (the form's stored array) decodes to ``want`` within the form's precision."""
    np.testing.assert_array_equal(got, encode_colbert(want, form).data)  # the server's bytes are the encoder's
    back = decode_colbert(CompactColbert(form, got, want.shape[1], scales))
    if form == "binary":
        np.testing.assert_array_equal(back > 0, want > 0)
    elif form == "int8":
        assert scales is not None
        assert np.all(np.abs(back - want) <= scales[:, None] / 2 + 1e-6)
    else:
        np.testing.assert_allclose(back, want, rtol=2.0 ** -11, atol=1e-7)


def _decode(item: str, form: str, shape: list[int]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(item), DTYPES[form]).reshape(shape)


@pytest.mark.parametrize("encoding", ["float", "base64"])
@pytest.mark.parametrize("form", ["float", "fp16", "int8", "binary"])
def test_openai_colbert_forms(server, full, form, encoding):
    data = _post(server, "/v1/embeddings", {"input": TEXTS, "return_colbert_vecs": True, "colbert_format": form,
                                            "encoding_format": encoding}).json()["data"]
    for item, want in zip(data, full["colbert"], strict=True):
        assert ("colbert_scales" in item) == (form == "int8")
        scales = item.get("colbert_scales")
        if encoding == "base64":
            got = _decode(item["colbert_embedding"], form, item["colbert_shape"])
            assert item["colbert_shape"] == [len(want), want.shape[1] // 8 if form == "binary" else want.shape[1]]
            scales = None if scales is None else np.frombuffer(base64.b64decode(scales), "<f4")
            assert isinstance(item["embedding"], str), "the dense vector follows encoding_format as before"
        else:
            got = np.array(item["colbert_embedding"], DTYPES[form] if form != "binary" else np.int8)
            got = got.view(np.uint8) if form == "binary" else got
            scales = None if scales is None else np.array(scales, np.float32)
        _check_colbert(form, got, want, scales)


@pytest.mark.parametrize("encoding", ["float", "base64"])
@pytest.mark.parametrize("form", ["float", "fp16", "int8", "binary"])
def test_seed_embed_colbert_forms(server, full, form, encoding):
    body = _post(server, "/embed", {"texts": TEXTS, "mode": "colbert", "colbert_format": form,
                                    "encoding_format": encoding}).json()
    assert ("colbert_scales" in body) == (form == "int8")
    assert ("colbert_shapes" in body) == (encoding == "base64")
    for i, want in enumerate(full["colbert"]):
        scales = body["colbert_scales"][i] if form == "int8" else None
        if encoding == "base64":
            got = _decode(body["embeddings"][i], form, body["colbert_shapes"][i])
            scales = None if scales is None else np.frombuffer(base64.b64decode(scales), "<f4")
        else:
            got = np.array(body["embeddings"][i], np.int8 if form == "binary" else DTYPES[form])
            got = got.view(np.uint8) if form == "binary" else got
            scales = None if scales is None else np.array(scales, np.float32)
        _check_colbert(form, got, want, scales)


def _by_id(sparse: dict) -> dict[str, float]:
    return {str(i): v for i, v in zip(sparse["indices"], sparse["values"], strict=True)}


def _by_token(sparse: dict) -> dict[str, float]:
    return token_weights(sparse["tokens"], sparse["values"])


def _assert_weights(got: dict, want: dict) -> None:
    assert list(got) == list(want)
    np.testing.assert_allclose(list(got.values()), list(want.values()), rtol=1e-6)


@pytest.mark.parametrize("form", ["indices", "id_map", "token_map"])
def test_openai_sparse_forms(server, full, form):
    data = _post(server, "/v1/embeddings", {"input": TEXTS, "return_dense": False, "return_sparse": True,
                                            "sparse_format": form}).json()["data"]
    for item, want in zip(data, full["sparse"], strict=True):
        got = item["sparse_embedding"]
        if form == "indices":
            assert got == {"indices": want["indices"], "values": want["values"]}, "no tokens unless asked"
        else:
            _assert_weights(got, _by_id(want) if form == "id_map" else _by_token(want))


def test_token_map_keys_are_unique_texts_with_the_larger_weight(server, full):
    """Two ids that read the same ('▁is' and 'is' both read 'is') give one key with the larger weight; the bare
    word-start marker (before the Chinese text) is keyed '▁', never ''."""
    got = _post(server, "/v1/embeddings", {"input": TEXTS, "return_dense": False, "return_sparse": True,
                                           "sparse_format": "token_map"}).json()["data"]
    repeated, marked = full["sparse"][2]["tokens"], full["sparse"][1]["tokens"]
    assert len(set(repeated)) < len(repeated) and "" in marked, "the texts hold a repeated token text and a bare '▁'"
    for item, want in zip(got, full["sparse"], strict=True):
        keys = item["sparse_embedding"]
        assert "" not in keys
        for token, value in zip(want["tokens"], want["values"], strict=True):
            assert keys[token or "▁"] >= value
    assert "▁" in got[1]["sparse_embedding"]


@pytest.mark.parametrize("form", [None, "indices", "id_map", "token_map"])
def test_seed_embed_sparse_forms(server, full, form):
    body = {"texts": TEXTS, "mode": "sparse"} | ({"sparse_format": form} if form else {})
    embeddings = _post(server, "/embed", body).json()["embeddings"]
    for got, want in zip(embeddings, full["sparse"], strict=True):
        if form is None:  # the seed guide's map: FlagEmbedding's convert_id_to_token, unchanged
            assert got == dict(zip(want["tokens"], want["values"], strict=True))
        elif form == "indices":
            assert got == {"indices": want["indices"], "values": want["values"]}
        else:
            _assert_weights(got, _by_id(want) if form == "id_map" else _by_token(want))


@pytest.mark.parametrize("form", [None, "indices", "id_map", "token_map"])
def test_tei_embed_sparse_forms(server, full, form):
    body = {"inputs": TEXTS} | ({"sparse_format": form} if form else {})
    answer = _post(server, "/embed_sparse", body).json()
    for got, want in zip(answer, full["sparse"], strict=True):
        if form is None:  # TEI's shape, sorted by index, unchanged
            pairs = sorted(zip(want["indices"], want["values"], strict=True))
            assert got == [{"index": i, "value": v} for i, v in pairs]
        elif form == "indices":
            assert got == {"indices": want["indices"], "values": want["values"]}
        else:
            _assert_weights(got, _by_id(want) if form == "id_map" else _by_token(want))


def test_tei_root_and_per_model_url_take_the_forms_too(server, full):
    for path in ("/", "/models/bge-m3/"):
        body = _post(server, path, {"texts": TEXTS[:1], "mode": "colbert", "colbert_format": "binary",
                                    "encoding_format": "base64"}).json()
        got = _decode(body["embeddings"][0], "binary", body["colbert_shapes"][0])
        _check_colbert("binary", got, full["colbert"][0], None)


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/embeddings", {"input": "x", "return_colbert_vecs": True, "colbert_format": "int4"}),
    ("/v1/embeddings", {"input": "x", "return_sparse": True, "sparse_format": "csr"}),
    ("/embed", {"texts": ["x"], "mode": "colbert", "colbert_format": "int4"}),
    ("/embed", {"texts": ["x"], "mode": "sparse", "sparse_format": "csr"}),
    ("/embed", {"texts": ["x"], "mode": "colbert", "encoding_format": "hex"}),
    ("/embed_sparse", {"inputs": ["x"], "sparse_format": "csr"}),
])
def test_unknown_forms_are_400s_naming_the_allowed_values(server, path, body):
    r = _post(server, path, body)
    assert r.status_code == 400
    message = r.json()["error"]["message"]
    for allowed in (["float", "fp16", "int8", "binary"] if "colbert_format" in body else
                    ["indices", "id_map", "token_map"] if "sparse_format" in body else ["float", "base64"]):
        assert allowed in message, message


def test_null_forms_mean_the_default(server, full):
    item = _post(server, "/v1/embeddings", {"input": TEXTS[:1], "return_dense": False, "return_sparse": True,
                                            "return_colbert_vecs": True, "colbert_format": None,
                                            "sparse_format": None}).json()["data"][0]
    np.testing.assert_array_equal(np.array(item["colbert_embedding"], np.float32), full["colbert"][0])
    assert item["sparse_embedding"] == {"indices": full["sparse"][0]["indices"],
                                        "values": full["sparse"][0]["values"]}
