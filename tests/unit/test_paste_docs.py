"""README's and docs/ragflow.md's connection tables: generated (tools/doctor/docs.py) from clients/forms.py."""

from __future__ import annotations

from support.server import REPO

from local_server.clients import forms as paste
from local_server.tools.doctor import docs


def test_readme_and_ragflow_doc_are_up_to_date_with_the_generator():
    for path in (REPO / "README.md", REPO / "docs" / "ragflow.md"):
        text = path.read_text()
        for name, block in docs.generated_blocks(path.name).items():
            assert block in text, (
                f"{path.relative_to(REPO)} is out of date ({name}): run `bge-local doctor --write-docs`"
            )


def test_the_keyless_advice_is_a_non_empty_key():
    for row in paste.rows("http://HOST:8000"):
        if row.app == "RAGFlow" and row.url and row.key != paste.KEY_NONE:
            assert paste.key_to_type(row.key, None) == "x", row


def test_ragflow_rows_say_which_releases_they_hold_for():
    for row in paste.rows("http://HOST:8000"):
        if row.app == "RAGFlow" and row.url:
            assert set(row.versions) <= set(paste.RAGFLOW_RELEASES) and row.versions, row


def test_tei_rows_give_each_model_its_own_url():
    rows = {(r.client, r.form): r for r in paste.rows("http://h:8000/", {"embedding": "e", "reranker": "r"})}
    assert rows[("Text Embedding Inference", "embedding")].url == "http://h:8000/models/e"
    assert rows[("Text Embedding Inference", "rerank")].url == "http://h:8000/models/r"
    assert rows[("Xorbits Inference", "rerank")].model == "r"
