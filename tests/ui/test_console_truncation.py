"""The console says which inputs the server cut, in a real browser against real servers on the tiny models.

A server started with ``--max-length 16`` cuts the sample texts: the Try panel lists each text cut with the tokens
kept (the answer's "truncated"), and the Rerank panel does so per model, the cross-encoder's cuts (query + document
pairs) under its name and the hybrid's (query tokens + document tokens) under its own. On the default server
nothing is cut and no notice shows.
"""

from __future__ import annotations

import httpx
import pytest
from support.browser import screenshot
from support.console_checks import axe_violations, untranslated
from support.server import ServerProcess

pytest.importorskip("playwright")
from playwright.sync_api import expect

MAX_LENGTH = 16
QUERY = "What is the capital of France and which river runs through it?"
DOCUMENTS = ["The capital of France is Paris, a city on the Seine with many museums, bridges and old churches.",
             "Horses.",
             "巴黎是法国的首都，也是法国最大的城市，塞纳河从城市中间流过，两岸有许多博物馆和古老的教堂。"]


@pytest.fixture(scope="module")
def short_server(tiny_models, tmp_path_factory):
    """Both tiny models, inputs cut at 16 tokens."""
    with ServerProcess(tiny_models, "--max-length", str(MAX_LENGTH),
                       log_dir=tmp_path_factory.mktemp("short-server")) as proc:
        yield proc


def listed(page, notice: str) -> list[dict]:
    """The inputs a notice lists, as the answers' "truncated" entries."""
    items = page.locator(f"#{notice} li")
    return [{"index": int(i.get_attribute("data-index")), "tokens": int(i.get_attribute("data-tokens"))}
            for i in items.all()]


def api_cut(server, path: str, body: dict) -> list[dict]:
    reply = httpx.post(server.url + path, json=body, headers=server.headers(), timeout=60)
    assert reply.status_code == 200, reply.text
    return reply.json().get("truncated", [])


def run_try(page, server, texts: list[str] | None = None) -> None:
    page.goto(f"{server.url}/ui/#try")
    if texts is not None:
        page.fill("#try-texts", "\n".join(texts))
    page.click("#try-run")
    expect(page.locator("#panel-try")).to_have_attribute("data-state", "done")


def run_rerank(page, server) -> None:
    page.goto(f"{server.url}/ui/#rerank")
    expect(page.locator("#panel-rerank[data-serves]")).to_have_count(1)
    page.fill("#rerank-query", QUERY)
    page.fill("#rerank-documents", "\n".join(DOCUMENTS))
    page.click("#rerank-run")
    expect(page.locator("#panel-rerank")).to_have_attribute("data-state", "done")


def test_try_lists_the_texts_the_server_cut(short_server, new_page):
    page = new_page()
    run_try(page, short_server)  # the sample texts
    texts = page.input_value("#try-texts").split("\n")
    want = api_cut(short_server, "/v1/embeddings", {"input": texts})
    assert want and all(c["tokens"] == MAX_LENGTH for c in want)  # the long samples are cut, and said to be
    notice = page.locator("#try-truncated")
    expect(notice).to_be_visible()
    assert listed(page, "try-truncated") == want
    first = want[0]
    expect(notice.locator("li").first).to_have_text(f"text {first['index'] + 1}: {MAX_LENGTH} tokens kept")
    expect(notice.locator("p")).to_contain_text(f"cut {len(want)} of these texts")
    screenshot(page, "try-truncated")
    run_try(page, short_server, ["short", "BGE M3"])  # nothing cut: the notice goes
    expect(page.locator("#try-truncated")).to_have_count(0)


def test_rerank_lists_each_models_cuts_under_its_name(short_server, new_page):
    page = new_page()
    run_rerank(page, short_server)
    body = {"query": QUERY, "documents": DOCUMENTS}
    cross = api_cut(short_server, "/v1/rerank", body)
    hybrid = api_cut(short_server, "/v1/rerank", {**body, "model": "bge-m3-hybrid"})
    assert cross and hybrid
    for which, want, model in (("cross", cross, "bge-reranker-v2-m3"), ("hybrid", hybrid, "bge-m3-hybrid")):
        notice = page.locator(f"#rerank-truncated-{which}")
        expect(notice).to_be_visible()
        expect(notice.locator("p code")).to_have_text(model)
        assert listed(page, f"rerank-truncated-{which}") == want
        c = want[0]
        expect(notice.locator("li").first).to_have_text(
            f"document {c['index'] + 1}: {c['tokens']} tokens of query + document kept")
    screenshot(page, "rerank-truncated")


def test_the_notices_in_chinese_pass_axe(short_server, new_page):
    page = new_page(locale="zh-CN")
    run_rerank(page, short_server)
    expect(page.locator("#rerank-truncated-cross p")).to_contain_text("截断")
    assert untranslated(page) == []
    assert axe_violations(page) == []
    run_try(page, short_server)
    expect(page.locator("#try-truncated li").first).to_contain_text("个词元")
    assert untranslated(page) == []
    assert axe_violations(page) == []


def test_nothing_cut_shows_no_notice(server, new_page):
    page = new_page()
    run_try(page, server)
    expect(page.locator("#dense-matrix")).to_be_visible()
    expect(page.locator("#try-truncated")).to_have_count(0)
    assert "null" not in page.locator("#try-output").inner_text()  # no notice is no text either
    run_rerank(page, server)
    expect(page.locator("#rerank-results li")).to_have_count(len(DOCUMENTS))
    expect(page.locator(".cut-notice")).to_have_count(0)
    assert "null" not in page.locator("#rerank-output").inner_text()
