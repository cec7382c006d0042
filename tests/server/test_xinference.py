"""Xinference's model-description and auth-probe routes, with the real ``xinference-client``."""

from __future__ import annotations

import httpx
import pytest
from support import clients


def test_cluster_auth_says_whether_the_server_wants_a_key(server, keyed_server):
    """The client probes it with no headers at all; a 404 would make it drop the key for good."""
    assert httpx.get(server.url + "/v1/cluster/auth").json() == {"auth": False}
    assert httpx.get(keyed_server.url + "/v1/cluster/auth").json() == {"auth": True}


@pytest.mark.parametrize(("uid", "kind"), [("bge-m3", "embedding"), ("bge-reranker-v2-m3", "rerank"),
                                           ("BGE-M3", "embedding")])
def test_client_get_model_gives_the_right_handle(server, uid, kind):
    from xinference_client.client.restful.restful_client import (
        Client,
        RESTfulEmbeddingModelHandle,
        RESTfulRerankModelHandle,
    )

    client = Client(base_url=server.url)
    handle = client.get_model(model_uid=uid)
    assert isinstance(handle, RESTfulEmbeddingModelHandle if kind == "embedding" else RESTfulRerankModelHandle)
    described = client.describe_model(uid)
    assert described["model_type"] == kind and described["max_tokens"] > 0


def test_client_with_a_key_sends_it(keyed_server):
    from xinference_client.client.restful.restful_client import Client

    handle = Client(base_url=keyed_server.url, api_key="test-key-1").get_model(model_uid="bge-m3")
    out = handle.create_embedding(input=["hello", "world"])
    assert len(out["data"]) == 2 and out["usage"]["total_tokens"] > 0
    with pytest.raises(RuntimeError, match=r"401|API key"):
        Client(base_url=keyed_server.url).get_model(model_uid="bge-m3")


def test_rerank_handle_with_the_clients_own_body(server):
    """The client sends top_n/max_chunks_per_doc/return_len as null and ``kwargs`` as a JSON string."""
    from xinference_client.client.restful.restful_client import Client

    handle = Client(base_url=server.url).get_model(model_uid="bge-reranker-v2-m3")
    docs = ["Paris is the capital of France.", "Horses are animals.", "Cows too."]
    out = handle.rerank(documents=docs, query="capital of France", return_documents=True)
    assert sorted(r["index"] for r in out["results"]) == [0, 1, 2]
    assert all(r["document"]["text"] == docs[r["index"]] for r in out["results"])
    assert handle.rerank(documents=docs, query="q", top_n=1)["results"][0]["index"] in (0, 1, 2)


def test_unknown_uid_on_a_two_model_server_is_a_404_that_names_the_served_models(server):
    resp = httpx.get(server.url + "/v1/models/qwen2-instruct")
    assert resp.status_code == 404
    assert "bge-m3" in resp.json()["detail"] and "bge-reranker-v2-m3" in resp.json()["detail"]


def test_dify_helper_reads_max_tokens(server, keyed_server):
    assert clients.dify_xinference_describe(server.url, "", "bge-m3")["max_tokens"] > 0
    assert clients.dify_xinference_describe(keyed_server.url, "test-key-1", "bge-m3")["model_type"] == "embedding"


def test_model_list_carries_what_ragflow_main_reads(server):
    """RAGFlow main lists Xinference models from GET /v1/models: data[].id, model_type, context_length."""
    data = httpx.get(server.url + "/v1/models").json()["data"]
    types = {m["id"]: m["model_type"] for m in data}
    assert types["bge-m3"] == "embedding" and types["bge-reranker-v2-m3"] == "rerank"
    assert all(m["context_length"] > 0 for m in data)
