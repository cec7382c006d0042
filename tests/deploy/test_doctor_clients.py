"""What ``bge-local doctor`` tells users to paste works: its printed URLs, driven by each client's own rules.

Doctor runs against the two-model server (keyless, then with a key) and prints, per Dify plugin and per
RAGFlow provider form, a URL, a model name and what to type as the key. Each row is then driven by
tests/support/clients.py exactly as that client would use it — for RAGFlow once per release the row claims
(0.24, 0.26, 0.27) — and its answers are compared with the server's own.
"""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
from support import clients

from local_server.clients import forms as paste
from local_server.tools.doctor import main as doctor_main

TEXTS = ["The capital of France is Paris.", "巴黎是法国的首都。"]
QUERY = "What is the capital of France?"
DOCS = ["Paris is the capital of France.", "Horses are animals.", "巴黎是法国的首都。"]


def driver(row: dict, version: str | None):
    if row["app"] == "Dify":
        table = clients.DIFY_EMBEDDING if row["form"] == "embedding" else clients.DIFY_RERANK
        return table[row["client"]]
    if row["form"] == "embedding":
        return clients.ragflow_embedding(row["client"], version)
    return clients.ragflow_rerank(row["client"], version)


@pytest.fixture(params=["keyless", "keyed"])
def target(request, server, keyed_server):
    return (server, None) if request.param == "keyless" else (keyed_server, "test-key-1")


def run_doctor(capsys, url: str, key: str | None) -> dict:
    rc = doctor_main([url, "--json", *(["--api-key", key] if key else [])])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0, [c for c in report["checks"] if c["ok"] is False]
    return report


def test_every_url_doctor_prints_works_with_its_client(target, capsys, monkeypatch):
    server, key = target
    monkeypatch.delenv("BGE_LOCAL_API_KEY", raising=False)
    report = run_doctor(capsys, server.url, key)
    headers = server.headers()
    want_vectors = np.array([d["embedding"] for d in httpx.post(
        server.url + "/v1/embeddings", json={"input": TEXTS}, headers=headers).json()["data"]])
    scores: dict[str, dict[int, float]] = {}  # by model: the hybrid's rows rank with bge-m3-hybrid

    def want(model: str) -> dict[int, float]:
        if model not in scores:
            body = {"model": model, "query": QUERY, "documents": DOCS}
            reply = httpx.post(server.url + "/v1/rerank", json=body, headers=headers)
            scores[model] = {r["index"]: r["relevance_score"] for r in reply.json()["results"]}
        return scores[model]
    driven = []
    for row in report["paste"]:
        if row["url"] is None or row["client"] == "bge-local plugin":  # ours: tests/plugin drives it
            continue
        if row["app"] == "Other tools":  # tests/clients drives each with its own library, in its own venv
            assert row["ok"] is True, row
            continue
        typed = paste.key_to_type(row["key"], key)
        if typed is None:
            assert key and row["ok"] is False, row  # needs a keyless server, and says so
            continue
        assert row["ok"] is True, row
        for version in row["versions"] or [None]:
            drive = driver(row, version)
            where = (row["app"], row["client"], row["form"], version, row["url"])
            if row["form"] == "embedding":
                got = drive(row["url"], typed, row["model"], TEXTS)
                np.testing.assert_allclose(got, want_vectors, atol=2e-6, err_msg=str(where))
            else:
                got = drive(row["url"], typed, row["model"], QUERY, DOCS)
                want_scores = want(row["model"])
                assert got.keys() == want_scores.keys(), where
                np.testing.assert_allclose([got[i] for i in want_scores], list(want_scores.values()), atol=1e-6,
                                           err_msg=str(where))
            driven.append(where[:4])
    clients_driven = {(app, client, form) for app, client, form, _ in driven}
    assert {"bge-m3-hybrid", "bge-reranker-v2-m3"} <= scores.keys()  # the hybrid's rows too, against its own scores
    assert {("Dify", c, "embedding") for c in clients.DIFY_EMBEDDING} <= clients_driven
    assert {("Dify", c, "rerank") for c in clients.DIFY_RERANK} <= clients_driven
    if not key:
        assert {("RAGFlow", p, "embedding") for p in clients.RAGFLOW_EMBEDDING_PROVIDERS} <= clients_driven
        assert {("RAGFlow", p, "rerank") for p in clients.RAGFLOW_RERANK_PROVIDERS} <= clients_driven


def test_the_text_report_prints_the_same_urls(server, capsys, monkeypatch):
    monkeypatch.delenv("BGE_LOCAL_API_KEY", raising=False)
    assert doctor_main([server.url]) == 0
    text = capsys.readouterr().out
    for row in paste.rows(server.url, {"embedding": "bge-m3", "reranker": "bge-reranker-v2-m3"}):
        if row.url:
            assert row.url in text, row
    cohere_line = next(line for line in text.splitlines() if " Cohere " in line and " embedding " in line)
    assert "key x" in cohere_line  # a keyless server: the form's required key field gets x, not nothing


def test_rows_are_plain_data():
    rows = paste.rows("http://HOST:8000")
    assert {"client", "form", "field", "url", "model", "key", "app", "versions", "reaches", "note"} <= set(
        rows[0].as_dict())
    tei = [r for r in rows if r.client == "Text Embedding Inference"]
    assert {r.url for r in tei} == {"http://HOST:8000/models/bge-m3", "http://HOST:8000/models/bge-reranker-v2-m3"}
