"""The one table of client requests (local_server/clients/requests.py) and its two interpreters: the doctor's
(clients/judge.py) and the console's (console/static/judge.js) must judge every answer alike."""

from __future__ import annotations

import base64
import json
import re
import shutil
import struct
import subprocess
from dataclasses import asdict
from pathlib import Path

import pytest

from local_server.clients import judge
from local_server.clients.forms import HYBRID_CHECK, rows
from local_server.clients.requests import BY_ID, CHECKS, DOCUMENTS, calls

JUDGE_JS = Path(judge.__file__).parents[1] / "console" / "static" / "judge.js"
RULES = [rule for check in CHECKS for request in check.requests for rule in request.rules]


def _f32(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


A, B = [0.6, 0.8, 0.0], [0.0, 0.6, 0.8]
REFERENCE = [A, B]
RANKED = {"results": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.5},
                      {"index": 2, "relevance_score": 0.1}], "usage": {"total_tokens": 12}}
ANSWERS = [
    {"object": "list", "model": "bge-m3", "data": [{"index": 0, "embedding": A}, {"index": 1, "embedding": B}],
     "usage": {"total_tokens": 9}},
    {"model": "bge-m3", "data": [{"index": 1, "embedding": A}, {"index": 0, "embedding": B}],
     "usage": {"total_tokens": 0}},
    {"model": "bge-m3", "data": [{"index": 0, "embedding": _f32(A)}, {"index": 1, "embedding": _f32(B)}]},
    {"model": "bge-m3", "data": [{"index": 0, "embedding": "not base64!"}, {"index": 1, "embedding": _f32(A)}]},
    {"data": [{"index": 0, "embedding": A}, {"index": 1, "embedding": A}], "usage": {"total_tokens": 3}},
    [A], [[0.6, "x", 0.0]], [B],
    RANKED,
    {**RANKED, "results": list(reversed(RANKED["results"]))},
    {**RANKED, "results": [{**r, "relevance_score": 1.5} for r in RANKED["results"]]},
    {"results": RANKED["results"]},
    [{"index": 2, "score": 0.2}, {"index": 0, "score": 0.9}, {"index": 1, "score": 0.4}],
    {"data": [{"index": 0, "score": 0.3}, {"index": 1, "score": 0.2}, {"index": 2, "score": 0.7}]},
    {"model_type": {"embedding": {"pooling": "cls"}}}, {"model_type": {"reranker": {}}},
    {"model_type": "rerank"}, {"auth": False}, {"auth": "no"},
    {"tokens": [1, 2, 3], "token_strings": ["What is the capital", " of France?"]},
    {"response_type": "embeddings_floats", "embeddings": [A], "meta": {"billed_units": {"input_tokens": 7}}},
    {"embeddings": [A]}, {"embedding": B}, {"embedding": [0.8, 0.6, 0.0]},
    {}, [], None, "text", 3,
    {"results": [{**r, "document": DOCUMENTS[r["index"]]} for r in RANKED["results"]]},
    {"results": [{**r, "document": {"text": DOCUMENTS[r["index"]]}} for r in RANKED["results"]]},
    [{"index": 1, "score": 0.9, "text": DOCUMENTS[1]}, {"index": 0, "score": 0.5, "text": DOCUMENTS[0]},
     {"index": 2, "score": 0.1}],
]


def test_every_check_a_paste_row_names_is_in_the_table():
    named = {check for row in rows("http://h:8000") for check in row.checks}
    assert named and named <= set(BY_ID) | {HYBRID_CHECK}  # and the doctor's check of the hybrid


def test_every_rule_names_a_test_both_interpreters_know():
    js_tests = set(re.findall(r"^  (\w+): ", JUDGE_JS.read_text().split("const TESTS = {")[1].split("};")[0], re.M))
    assert js_tests == set(judge.TESTS)
    assert {rule.test for rule in RULES} <= set(judge.TESTS)


def test_a_good_answer_passes_and_a_broken_one_fails_with_its_rules_message():
    (ranked,) = [r for r in BY_ID["rerank_root"].requests]
    judge.judge(RANKED, [asdict(rule) for rule in ranked.rules])
    with pytest.raises(judge.Failed, match="not sorted by score"):
        judge.judge(ANSWERS[9], [asdict(rule) for rule in ranked.rules])
    base64_rules = [asdict(rule) for rule in BY_ID["embeddings_base64"].requests[0].rules]
    judge.judge(ANSWERS[2], base64_rules, REFERENCE)
    with pytest.raises(judge.Failed, match="disagree"):
        judge.judge(ANSWERS[2], base64_rules, [B, A])  # the vectors of the other texts


def test_details_fill_paths_formats_and_braces():
    top = "{results.#} sorted, top {results.0.relevance_score:.3f}"
    assert judge.describe(top, RANKED, {}) == "3 sorted, top 0.900"
    assert judge.describe("auth {auth|onoff}; {{x}} {model}", {}, {"auth": False, "model": "m"}) == "auth off; {x} m"


def test_a_console_row_sends_its_checks_requests_for_its_own_model():
    (row,) = [r for r in rows("http://h:8000") if (r.app, r.client, r.form) == ("Dify", "Xorbits Inference", "rerank")]
    sent = [c for check in row.checks for c in calls(BY_ID[check], "http://h:8000", {"embedding": "e", "reranker": "r"},
                                                     ("reranker", None))]
    assert [(c.method, c.url) for c in sent] == [
        ("GET", "http://h:8000/v1/cluster/auth"), ("GET", "http://h:8000/v1/models/r"),
        ("POST", "http://h:8000/v1/rerank"), ("POST", "http://h:8000/v1/rerank")]
    assert sent[0].sends_key is False and sent[2].body["documents"] == DOCUMENTS


def _reached(row) -> set[str]:
    """The paths a row's ``reaches`` names ("/v1/models/…" written as "/v1/models/{model}")."""
    return {p.replace("…", "{model}") for p in re.findall(r"/[\w/…]*", row.reaches)}


@pytest.mark.parametrize("root", ["http://h:8000", "http://gw/bge"])
def test_every_rows_test_calls_exactly_the_paths_its_client_calls(root):
    """A row's test sends what its client sends, where it sends it: every path in the row's "requests go to", no
    other (Dify's Ollama rerank at /api/rerank, Dify's TEI rerank at its per-model URL)."""
    names = {"embedding": "the-embedder", "reranker": "the-reranker"}
    for row in rows(root, names):
        if row.url is None:
            continue
        kind = "embedding" if row.form == "embedding" else "reranker"
        sent = [c for check in row.checks if check != HYBRID_CHECK
                for c in calls(BY_ID[check], root, names, (kind, None))]
        base = f"{root}/models/{names[kind]}" if "/models/" in row.url else root  # TEI: one URL per model
        assert all(c.url.startswith(base + "/") for c in sent), (row, [c.url for c in sent])
        paths = {c.url.removeprefix(base).replace(f"/{names[kind]}", "/{model}") for c in sent}
        assert paths == _reached(row), (row.app, row.client, row.form, paths)


def test_dify_ollama_rerank_sends_what_the_plugin_sends():
    (row,) = [r for r in rows("http://h:8000") if (r.app, r.client, r.form) == ("Dify", "Ollama", "rerank")]
    (sent,) = [c for check in row.checks for c in calls(BY_ID[check], "http://h:8000", {"reranker": "r"})]
    assert (sent.method, sent.url) == ("POST", "http://h:8000/api/rerank")
    assert sent.body == {"model": "r", "query": sent.body["query"], "documents": DOCUMENTS}
    judge.judge(RANKED, sent.rules)
    with pytest.raises(judge.Failed, match="not the text itself"):
        judge.judge(ANSWERS[-2], sent.rules)


def _python_verdicts(rulesets: list[list[dict]]) -> list[list[str]]:
    out = []
    for answer in ANSWERS:
        verdicts = []
        for rules in rulesets:
            try:
                judge.judge(answer, rules, REFERENCE)
                verdicts.append("ok")
            except judge.Failed as exc:
                verdicts.append(str(exc))
        out.append(verdicts)
    return out


def test_the_console_judges_every_answer_as_the_doctor_does(tmp_path):
    """Every request's rules of the table, over a corpus of right and wrong answers, in Python and in the
    browser's JavaScript (run by node): the same verdicts, message for message."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the console's judge.js is not run here (the browser tests run it)")
    rulesets = [[asdict(rule) for rule in request.rules] for check in CHECKS for request in check.requests]
    shutil.copy(JUDGE_JS, tmp_path / "judge.mjs")
    (tmp_path / "run.mjs").write_text(
        'import { judge } from "./judge.mjs";\n'
        'import { readFileSync } from "node:fs";\n'
        'const { answers, rulesets, reference } = JSON.parse(readFileSync(0, "utf8"));\n'
        "const verdict = (answer, rules) => { try { judge(answer, rules, reference); return 'ok'; }"
        " catch (e) { return e.message; } };\n"
        "console.log(JSON.stringify(answers.map((a) => rulesets.map((rules) => verdict(a, rules)))));\n")
    given = json.dumps({"answers": ANSWERS, "rulesets": rulesets, "reference": REFERENCE})
    out = subprocess.run([node, str(tmp_path / "run.mjs")], input=given, capture_output=True, text=True, check=True)
    python = _python_verdicts(rulesets)
    assert json.loads(out.stdout) == python
    assert {v for verdicts in python for v in verdicts} > {"ok"}  # the corpus both passes and fails rules
