"""Ollama's embedding API with the real ``ollama`` client, and the Dify and RAGFlow Ollama providers unchanged."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from support import clients

TEXTS = ["The capital of France is Paris.", "巴黎是法国的首都。"]


def dense(server, texts: list[str]) -> np.ndarray:
    body = httpx.post(server.url + "/v1/embeddings", json={"input": texts}, headers=server.headers()).json()
    return np.array([d["embedding"] for d in body["data"]])


def test_ollama_client_embed_and_embeddings(server):
    import ollama

    client = ollama.Client(host=server.url)
    out = client.embed(model="bge-m3", input=TEXTS, truncate=True)
    np.testing.assert_allclose(out.embeddings, dense(server, TEXTS), atol=1e-6)
    tokens = httpx.post(server.url + "/v1/embeddings", json={"input": TEXTS}).json()["usage"]["total_tokens"]
    assert out.prompt_eval_count == tokens and out.model == "bge-m3"
    single = client.embed(model="bge-m3:latest", input=TEXTS[0])
    np.testing.assert_allclose(single.embeddings[0], dense(server, TEXTS[:1])[0], atol=1e-6)
    legacy = client.embeddings(model="bge-m3", prompt=TEXTS[1])
    np.testing.assert_allclose(legacy.embedding, dense(server, TEXTS[1:])[0], atol=1e-6)


def test_ollama_client_list_and_show(server):
    import ollama

    client = ollama.Client(host=server.url)
    names = [m.model for m in client.list().models]
    assert {"bge-m3", "bge-reranker-v2-m3"} <= {n.split(":")[0] for n in names}
    shown = client.show("bge-m3")
    assert shown.capabilities == ["embedding"]
    family = shown.details.family
    assert shown.modelinfo[f"{family}.context_length"] == shown.modelinfo["general.context_length"] > 0
    assert shown.modelinfo[f"{family}.embedding_length"] == dense(server, ["x"]).shape[1]


def test_ollama_errors_are_what_the_client_reads(server):
    import ollama

    with pytest.raises(ollama.ResponseError) as caught:
        ollama.Client(host=server.url).embed(model="bge-m3", input=[])
    assert caught.value.status_code == 400 and "empty" in str(caught.value.error)


def test_ollama_with_a_key(keyed_server):
    import ollama

    ok = ollama.Client(host=keyed_server.url, headers={"Authorization": "Bearer test-key-1"})
    assert len(ok.embed(model="bge-m3", input="x").embeddings) == 1
    with pytest.raises(ollama.ResponseError) as caught:
        ollama.Client(host=keyed_server.url).embed(model="bge-m3", input="x")
    assert caught.value.status_code == 401


@pytest.mark.parametrize("version", clients.RAGFLOW_VERSIONS)
@pytest.mark.parametrize("suffix", ["", "/"])
def test_ragflow_ollama_embedding(server, version, suffix):
    """0.24 sends /api/embeddings per text, 0.26+ /api/embed in batches; the key field 'x' sends no header."""
    drive = clients.ragflow_embedding("Ollama", version)
    np.testing.assert_allclose(drive(server.url + suffix, "x", "bge-m3", TEXTS), dense(server, TEXTS), atol=1e-6)


@pytest.mark.parametrize("version", clients.RAGFLOW_VERSIONS)
def test_ragflow_ollama_embedding_keyed(keyed_server, version):
    drive = clients.ragflow_embedding("Ollama", version)
    got = drive(keyed_server.url, "test-key-1", "bge-m3", TEXTS)
    np.testing.assert_allclose(got, dense(keyed_server, TEXTS), atol=1e-6)


def test_ragflow_main_lists_ollama_models(server):
    """RAGFlow main's model list: GET /api/tags, then POST /api/show {"model": name} for each."""
    tags = httpx.get(server.url + "/api/tags").json()["models"]
    found = {}
    for model in tags:
        info = httpx.post(server.url + "/api/show", json={"model": model["name"]}).json()
        family = info.get("details", {}).get("family", "")
        found[model["name"]] = (info.get("capabilities", []), info["model_info"].get(f"{family}.context_length"))
    embedder = next(v for k, v in found.items() if k.startswith("bge-m3"))
    assert embedder[0] == ["embedding"] and embedder[1] > 0


def test_show_of_an_unknown_model_is_a_404(server):
    resp = httpx.post(server.url + "/api/show", json={"model": "llama3"})
    assert resp.status_code == 404 and "bge-m3" in resp.json()["error"]["message"]
