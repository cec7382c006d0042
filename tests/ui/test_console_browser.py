"""The web console in a real browser (headless chromium) against real server processes on tiny models.

Every number the page shows is compared with what the API answers for the same request, computed here
the way FlagEmbedding's BGEM3FlagModel computes it.
"""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest
from support.browser import screenshot

from local_server.clients.forms import KEY_NONE, PasteRow, is_hybrid, rows

pytest.importorskip("playwright")
from playwright.sync_api import expect

# The page's request and the test's own are batched differently, which moves float32's last bits.
NOISE = 1e-5
TEXTS = ["What is BGE M3?", "BGE M3 supports dense, sparse and multi-vector retrieval.", "巴黎是法国的首都。"]
QUERY = "What is the capital of France?"
DOCUMENTS = ["The capital of France is Paris.", "Horses and cows are both animals.", "巴黎是法国的首都。",
             "Berlin is the capital of Germany."]


def paste_rows(server) -> list[PasteRow]:
    """Doctor's what-to-paste table for this server's URL and the models it serves (the page's one source)."""
    models = httpx.get(server.url + "/health", headers=server.headers(), timeout=30).json()["models"]
    return rows(server.url, {m["type"]: m["name"] for m in models})


def sends_key(paste: PasteRow) -> bool:
    return paste.key != KEY_NONE


def open_console(page, server, tab: str = "status"):
    page.goto(f"{server.url}/ui/#{tab}")
    return page


def cell_matrix(page, table_id: str, n: int) -> np.ndarray:
    cells = page.locator(f"#{table_id} td[data-value]")
    expect(cells).to_have_count(n * n)
    values = np.zeros((n, n))
    for cell in cells.all():
        i, j = int(cell.get_attribute("data-i")), int(cell.get_attribute("data-j"))
        values[i, j] = float(cell.get_attribute("data-value"))
    return values


def api_embeddings(server, texts: list[str]) -> list[dict]:
    body = {"input": texts, "return_sparse_tokens": True, "return_colbert_vecs": True}
    reply = httpx.post(server.url + "/v1/embeddings", json=body, headers=server.headers(), timeout=60)
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


# --- status -------------------------------------------------------------------------------------------

def _traffic(server, intervals: int = 4) -> None:
    """Requests until /v1/stats has tokens in ``intervals`` samples, so the charts have something to draw."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        httpx.post(server.url + "/v1/embeddings", json={"input": TEXTS}, headers=server.headers(), timeout=60)
        httpx.post(server.url + "/rerank", json={"query": QUERY, "documents": DOCUMENTS}, headers=server.headers(),
                   timeout=60)
        samples = httpx.get(server.url + "/v1/stats", headers=server.headers()).json()["samples"]
        if sum(1 for s in samples if s["tokens_per_s"].get("embedding")) >= intervals:
            return
    raise AssertionError("the stats never showed the traffic")


def test_status_shows_the_loaded_models(server, new_page):
    _traffic(server)
    page = open_console(new_page(), server)
    health = httpx.get(server.url + "/health").json()
    rows = page.locator("#models tbody tr")
    expect(rows).to_have_count(len(health["models"]))
    expect(page.locator("#readiness")).to_have_attribute("data-state", "ok")
    for model in health["models"]:
        row = page.locator(f"#models tr[data-model='{model['name']}']")
        cells = row.locator("td")
        expect(cells.nth(1)).to_have_text(model["type"])
        expect(cells.nth(2)).to_have_text(", ".join(model["devices"]))
        expect(cells.nth(3)).to_have_text(model["precision"])
        expect(cells.nth(4)).to_have_text(str(model["max_input_length"]))
        expect(cells.nth(6)).to_have_text(str(len(model["devices"])))
    # one throughput series per model type, drawn by uPlot
    expect(page.locator("#chart-throughput canvas")).to_have_count(1)
    expect(page.locator("#chart-throughput .u-legend .u-series")).to_have_count(1 + len(health["models"]))
    screenshot(page, "status")


def test_status_counts_requests_by_dialect_as_the_api_does(server, new_page):
    def tei_count() -> float:
        return httpx.get(server.url + "/v1/stats").json()["requests_by_dialect"].get("TEI", 0)

    before = tei_count()
    assert httpx.post(server.url + "/embed", json={"inputs": "dialect check"}, timeout=60).status_code == 200
    page = open_console(new_page(), server)
    item = page.locator("#dialects li[data-dialect='TEI']")
    expect(item).to_have_count(1)
    shown = float(item.get_attribute("data-count"))
    assert before + 1 <= shown <= tei_count()


def test_labels_follow_the_browser_language(server, new_page):
    page = open_console(new_page(locale="zh-CN"), server)
    expect(page.locator("#tab-status")).to_have_text("状态")
    expect(page.locator("#tab-connect")).to_have_text("接入")
    expect(page.locator("#readiness")).to_have_text("就绪")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    screenshot(page, "status-zh")


# --- try bge-m3 ---------------------------------------------------------------------------------------

def test_try_panel_numbers_equal_the_apis(server, new_page):
    page = open_console(new_page(), server, "try")
    page.fill("#try-texts", "\n".join(TEXTS))
    page.click("#try-run")
    expect(page.locator("#panel-try")).to_have_attribute("data-state", "done")
    n = len(TEXTS)
    data = api_embeddings(server, TEXTS)

    dense = np.array([d["embedding"] for d in data])
    unit = dense / np.linalg.norm(dense, axis=1, keepdims=True)
    np.testing.assert_allclose(cell_matrix(page, "dense-matrix", n), unit @ unit.T, atol=NOISE)

    sparse = [dict(zip(d["sparse_embedding"]["indices"], d["sparse_embedding"]["values"], strict=True)) for d in data]
    lexical = np.array([[sum(w * b[t] for t, w in a.items() if t in b) for b in sparse] for a in sparse])
    np.testing.assert_allclose(cell_matrix(page, "lexical-matrix", n), lexical, rtol=NOISE, atol=NOISE)

    colbert = [np.array(d["colbert_embedding"]) for d in data]
    late = np.array([[(q @ p.T).max(axis=1).mean() for p in colbert] for q in colbert])
    np.testing.assert_allclose(cell_matrix(page, "colbert-matrix", n), late, atol=NOISE)

    weights = (0.4, 0.2, 0.4)  # the page's defaults
    combined = (weights[0] * unit @ unit.T + weights[1] * lexical + weights[2] * late) / sum(weights)
    np.testing.assert_allclose(cell_matrix(page, "combined-matrix", n), combined, atol=NOISE)

    for i, item in enumerate(data):
        s = item["sparse_embedding"]
        want = sorted(zip(s["values"], s["indices"], s["tokens"], strict=True), key=lambda x: (-x[0], x[1]))[:10]
        shown = page.locator(f".sparse-card[data-index='{i}'] li")
        expect(shown).to_have_count(len(want))
        got = [(float(li.get_attribute("data-weight")), int(li.get_attribute("data-id")),
                li.get_attribute("data-token")) for li in shown.all()]
        assert [(g[1], g[2]) for g in got] == [(w[1], w[2]) for w in want]
        np.testing.assert_allclose([g[0] for g in got], [w[0] for w in want], rtol=NOISE)

    curl = page.locator("#panel-try pre.curl").inner_text()
    assert "/v1/embeddings" in curl and '"return_colbert_vecs": true' in curl
    screenshot(page, "try")


def test_combined_weights_are_adjustable(server, new_page):
    page = open_console(new_page(), server, "try")
    page.fill("#try-texts", "\n".join(TEXTS[:2]))
    page.click("#try-run")
    expect(page.locator("#panel-try")).to_have_attribute("data-state", "done")
    for name, value in (("dense", "1"), ("sparse", "0"), ("colbert", "0")):
        page.locator(f"#weight-{name}").fill(value)
    np.testing.assert_allclose(cell_matrix(page, "combined-matrix", 2), cell_matrix(page, "dense-matrix", 2),
                               atol=1e-12)


# --- rerank -------------------------------------------------------------------------------------------

def test_rerank_order_and_scores_equal_the_apis(server, new_page):
    page = open_console(new_page(), server, "rerank")
    page.fill("#rerank-query", QUERY)
    page.fill("#rerank-documents", "\n".join(DOCUMENTS))
    page.click("#rerank-run")
    expect(page.locator("#panel-rerank")).to_have_attribute("data-state", "done")
    body = {"query": QUERY, "documents": DOCUMENTS}
    scored = httpx.post(server.url + "/v1/rerank", json=body, timeout=60).json()["results"]
    raw = httpx.post(server.url + "/v1/rerank", json={**body, "raw_scores": True}, timeout=60).json()["results"]
    items = page.locator("#rerank-results li")
    expect(items).to_have_count(len(DOCUMENTS))
    shown = [(int(li.get_attribute("data-index")), float(li.get_attribute("data-score")),
              float(li.get_attribute("data-raw"))) for li in items.all()]
    assert [s[0] for s in shown] == [r["index"] for r in scored]
    np.testing.assert_allclose([s[1] for s in shown], [r["relevance_score"] for r in scored], atol=NOISE)
    raw_by_index = {r["index"]: r["relevance_score"] for r in raw}
    np.testing.assert_allclose([s[2] for s in shown], [raw_by_index[s[0]] for s in shown], atol=NOISE)
    assert "raw_scores" in page.locator("#panel-rerank pre.curl").inner_text()
    screenshot(page, "rerank")


# --- connect ------------------------------------------------------------------------------------------

def run_every_connect_test(page) -> list:
    expect(page.locator("#panel-connect")).to_have_attribute("data-state", "done")
    buttons = page.locator("tr.connect-row .test-button")
    page.click("#connect-test-all")
    done = ".test-result[data-ok='true'], .test-result[data-ok='false'], .test-result[data-ok='skip']"
    expect(page.locator(done)).to_have_count(buttons.count())
    return page.locator("tr.connect-row").all()


def test_connect_rows_are_doctors_table_and_every_test_passes(server, new_page):
    page = open_console(new_page(), server, "connect")
    rows = run_every_connect_test(page)
    table = paste_rows(server)
    assert [(r.get_attribute("data-app"), r.get_attribute("data-provider"), r.get_attribute("data-model-type"))
            for r in rows] == [(p.app, p.client, p.form) for p in table]
    for row, paste in zip(rows, table, strict=True):
        if paste.url is None:
            expect(row.locator(".test-button")).to_have_count(0)
            continue
        expect(row.locator("td.value code")).to_have_text(paste.url)
        expect(row.locator(".test-result")).to_have_attribute("data-ok", "true")
    screenshot(page, "connect")


def test_connect_rows_of_a_model_not_served_are_skipped(embedder_only_server, new_page):
    page = open_console(new_page(), embedder_only_server, "connect")
    rows = run_every_connect_test(page)
    for row, paste in zip(rows, paste_rows(embedder_only_server), strict=True):
        if paste.url is None:
            continue
        # the plugin row tests its embedding half; the hybrid's rows run on the embedder
        want = "skip" if paste.form == "rerank" and not is_hybrid(paste) else "true"
        expect(row.locator(".test-result")).to_have_attribute("data-ok", want)


def test_connect_tests_fail_clearly_with_a_wrong_key(keyed_server, new_page):
    page = open_console(new_page(), keyed_server, "connect")
    page.fill("#gate-key", keyed_server.api_key)
    page.click("#gate-form button[type=submit]")
    page.fill("#connect-key", "not-the-key")
    rows = run_every_connect_test(page)
    tested = 0
    for row, paste in zip(rows, paste_rows(keyed_server), strict=True):
        if paste.url is None:
            continue
        tested += 1
        result = row.locator(".test-result")
        expect(result).to_have_attribute("data-ok", "false")
        expect(result).to_contain_text("HTTP 401")
        expect(result).to_contain_text("invalid API key" if sends_key(paste) else "sends no API key")
    assert tested > 0
    page.fill("#connect-key", keyed_server.api_key)  # the right key: rows whose client sends one pass
    run_every_connect_test(page)
    for row, paste in zip(page.locator("tr.connect-row").all(), paste_rows(keyed_server), strict=True):
        if paste.url is not None:
            expect(row.locator(".test-result")).to_have_attribute("data-ok", str(sends_key(paste)).lower())


# --- the key ------------------------------------------------------------------------------------------

def test_with_a_key_nothing_renders_until_it_is_entered(keyed_server, new_page):
    page = new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    open_console(page, keyed_server)
    expect(page.locator("#gate")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    served = httpx.get(keyed_server.url + "/health", headers=keyed_server.headers()).json()["models"]
    models = [m["name"] for m in served]
    secrets = [m["path"] for m in served] + ["bge-reranker-v2-m3", "uptime"]  # what only /v1/stats tells

    def nothing_rendered() -> None:
        expect(page.locator("#models tbody tr")).to_have_count(0)
        expect(page.locator("td[data-value], #rerank-results li, tr.connect-row, #dialects li")).to_have_count(0)
        dom = page.content()  # hidden elements included
        assert not [s for s in secrets if s in dom]
        assert page.evaluate("sessionStorage.length") == 0

    nothing_rendered()
    screenshot(page, "key-gate")
    page.fill("#gate-key", "wrong-key")
    page.click("#gate-form button[type=submit]")
    expect(page.locator("#gate-error")).to_be_visible()
    nothing_rendered()

    page.fill("#gate-key", keyed_server.api_key)
    page.click("#gate-form button[type=submit]")
    expect(page.locator("#models tbody tr")).to_have_count(len(models))
    assert page.evaluate("sessionStorage.getItem('bge-local-api-key')") == keyed_server.api_key
    assert page.evaluate("localStorage.length") == 0
    # the key is sent as a header, never in a URL, and no console file holds it
    assert not any(keyed_server.api_key in url for url in requests)
    for url in {u for u in requests if "/ui/" in u and "/ui/api/" not in u}:
        assert keyed_server.api_key not in httpx.get(url).text
    page.reload()  # same tab: still unlocked from sessionStorage
    expect(page.locator("#models tbody tr")).to_have_count(len(models))
    assert keyed_server.api_key not in keyed_server.log()
