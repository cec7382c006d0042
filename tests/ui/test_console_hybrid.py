"""The console's M3 hybrid rerank and output forms, in a real browser against real servers on the tiny models.

The Rerank panel shows bge-m3's hybrid ranking (model bge-m3-hybrid: dense + sparse + ColBERT, each part shown)
next to the cross-encoder's, or whichever of the two the server serves (/health's models); its weight fields start
at the server's defaults and go into the request. The Try panel asks for the sparse and ColBERT forms picked and
previews them with their curl.
"""

from __future__ import annotations

import httpx
import pytest
from support.browser import screenshot
from support.console_checks import axe_violations, untranslated

pytest.importorskip("playwright")
from playwright.sync_api import expect

NOISE = 1e-5  # the page's request and the test's own are batched differently
QUERY = "What is the capital of France?"
DOCUMENTS = ["The capital of France is Paris.", "Horses and cows are both animals.", "巴黎是法国的首都。",
             "Berlin is the capital of Germany."]
PARTS = ("dense", "sparse", "colbert")


def health_models(server) -> list[dict]:
    return httpx.get(server.url + "/health", headers=server.headers(), timeout=30).json()["models"]


def hybrid_entry(server) -> dict:
    entries = [e for m in health_models(server) for e in [m, *m.get("also_serves", [])] if e["type"] == "hybrid"]
    assert len(entries) == 1, entries
    return entries[0]


def run_rerank(page, server, weights: tuple[float, float, float] | None = None) -> list[dict]:
    """Open the Rerank panel, run it on QUERY/DOCUMENTS (with ``weights`` typed in), and answer the rerank
    requests the page sent (their JSON bodies)."""
    sent: list[dict] = []
    page.on("request", lambda r: r.method == "POST" and r.url.endswith("/v1/rerank") and sent.append(r.post_data_json))
    page.goto(f"{server.url}/ui/#rerank")
    expect(page.locator("#panel-rerank[data-serves]")).to_have_count(1)
    page.fill("#rerank-query", QUERY)
    page.fill("#rerank-documents", "\n".join(DOCUMENTS))
    if weights is not None:
        for part, value in zip(PARTS, weights, strict=True):
            page.fill(f"#hybrid-w-{part}", str(value))
    page.click("#rerank-run")
    expect(page.locator("#panel-rerank")).to_have_attribute("data-state", "done")
    return sent


def api_hybrid(server, name: str, weights: list[float] | None) -> list[dict]:
    body = {"model": name, "query": QUERY, "documents": DOCUMENTS, "return_components": True,
            **({"hybrid_weights": weights} if weights is not None else {})}
    reply = httpx.post(server.url + "/v1/rerank", json=body, headers=server.headers(), timeout=60)
    assert reply.status_code == 200, reply.text
    return reply.json()["results"]


def page_hybrid(page) -> list[dict]:
    items = page.locator("#hybrid-results li")
    expect(items).to_have_count(len(DOCUMENTS))
    out = []
    for item in items.all():
        data = {"index": int(item.get_attribute("data-index")), "score": float(item.get_attribute("data-score"))}
        for part in PARTS:
            data[part] = float(item.get_attribute(f"data-{part}"))
            expect(item.locator(f"dd.{part}")).to_have_text(f"{data[part]:.4f}")
        out.append(data)
    return out


def assert_same_ranking(shown: list[dict], api: list[dict]) -> None:
    assert [s["index"] for s in shown] == [a["index"] for a in api]
    for s, a in zip(shown, api, strict=True):
        assert 0.0 <= s["score"] <= 1.0
        assert abs(s["score"] - a["relevance_score"]) < NOISE
        for part in PARTS:
            assert abs(s[part] - a["components"][part]) < NOISE


def test_both_rankings_side_by_side_with_the_hybrids_parts(server, new_page):
    page = new_page()
    hybrid = hybrid_entry(server)
    sent = run_rerank(page, server)
    # the weight fields started at the server's defaults, and the request sent them with the hybrid's name
    defaults = [hybrid["weights"][p] for p in PARTS]
    for part, value in zip(PARTS, defaults, strict=True):
        assert float(page.input_value(f"#hybrid-w-{part}")) == pytest.approx(value)
    asked = [b for b in sent if b.get("model") == hybrid["name"]]
    assert len(asked) == 1 and asked[0]["return_components"] is True
    assert asked[0]["hybrid_weights"] == pytest.approx(defaults)
    expect(page.locator(".rerank-columns")).to_have_attribute("data-columns", "2")
    expect(page.locator("#rerank-cross h3")).to_contain_text("Cross-encoder")
    expect(page.locator("#rerank-hybrid h3")).to_contain_text(hybrid["name"])
    expect(page.locator("#rerank-results li")).to_have_count(len(DOCUMENTS))
    assert_same_ranking(page_hybrid(page), api_hybrid(server, hybrid["name"], None))
    curl = page.locator("#panel-rerank pre.curl").inner_text()
    assert "# 1/3" in curl and "# 3/3" in curl and '"return_components": true' in curl
    assert f'"model": "{hybrid["name"]}"' in curl
    screenshot(page, "rerank-hybrid")


def test_weights_typed_in_the_form_change_the_request_and_the_scores(server, new_page):
    page = new_page()
    sent = run_rerank(page, server, weights=(1, 0, 0))
    name = hybrid_entry(server)["name"]
    asked = [b for b in sent if b.get("model") == name]
    assert len(asked) == 1 and asked[0]["hybrid_weights"] == [1, 0, 0]
    shown = page_hybrid(page)
    assert_same_ranking(shown, api_hybrid(server, name, [1, 0, 0]))
    for item in shown:  # dense alone: the score is the dense part, clipped to 0..1
        assert item["score"] == pytest.approx(min(1.0, max(0.0, item["dense"])), abs=NOISE)
    curl = page.locator("#panel-rerank pre.curl").inner_text()
    assert '"hybrid_weights": [\n    1,\n    0,\n    0\n  ]' in curl
    # every weight 0, or one not a number: refused in the page, nothing sent
    before = len(sent)
    for part in PARTS:
        page.fill(f"#hybrid-w-{part}", "0")
    page.click("#rerank-run")
    expect(page.locator("#panel-rerank")).to_have_attribute("data-state", "refused")
    expect(page.locator("#rerank-error")).to_contain_text("at least one above 0")
    page.fill("#hybrid-w-dense", "")
    page.click("#rerank-run")
    expect(page.locator("#rerank-error")).to_be_visible()
    assert len(sent) == before


def test_an_embedder_only_server_shows_the_hybrid_alone(embedder_only_server, new_page):
    server = embedder_only_server
    page = new_page()
    sent = run_rerank(page, server)
    expect(page.locator("#panel-rerank")).to_have_attribute("data-serves", "hybrid")
    expect(page.locator(".rerank-columns")).to_have_attribute("data-columns", "1")
    expect(page.locator("#rerank-cross")).to_have_count(0)
    expect(page.locator("#hybrid-weights")).to_be_visible()
    name = hybrid_entry(server)["name"]
    assert [b.get("model") for b in sent] == [name]
    assert_same_ranking(page_hybrid(page), api_hybrid(server, name, None))
    curl = page.locator("#panel-rerank pre.curl").inner_text()
    assert "# 1/1" in curl


def test_a_reranker_only_server_shows_the_cross_encoder_alone(reranker_only_server, new_page):
    server = reranker_only_server
    page = new_page()
    sent = run_rerank(page, server)
    expect(page.locator("#panel-rerank")).to_have_attribute("data-serves", "reranker")
    expect(page.locator(".rerank-columns")).to_have_attribute("data-columns", "1")
    expect(page.locator("#rerank-hybrid")).to_have_count(0)
    expect(page.locator("#hybrid-weights")).to_be_hidden()
    expect(page.locator("#rerank-results li")).to_have_count(len(DOCUMENTS))
    assert len(sent) == 2 and not any("model" in b or "hybrid_weights" in b for b in sent)
    scores = [float(v) for v in page.locator("#rerank-results li").evaluate_all("ls => ls.map(l => l.dataset.score)")]
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_try_previews_the_forms_picked_and_shows_their_curl(server, new_page):
    page = new_page()
    texts = ["What is BGE M3?", "BGE M3 supports dense, sparse and multi-vector retrieval."]
    page.goto(f"{server.url}/ui/#try")
    page.fill("#try-texts", "\n".join(texts))
    page.select_option("#try-sparse-format", "token_map")
    page.select_option("#try-colbert-format", "int8")
    page.click("#try-run")
    expect(page.locator("#panel-try")).to_have_attribute("data-state", "done")
    expect(page.locator("#dense-matrix")).to_be_visible()  # the drawings are there as before
    cards = page.locator("#forms-output .form-card")
    expect(cards).to_have_count(len(texts))
    body = {"input": texts, "return_dense": False, "return_sparse": True, "return_colbert_vecs": True,
            "sparse_format": "token_map", "colbert_format": "int8"}
    api = httpx.post(server.url + "/v1/embeddings", json=body, timeout=60).json()["data"]
    for card, item in zip(cards.all(), api, strict=True):
        rows, width = len(item["colbert_embedding"]), len(item["colbert_embedding"][0])
        assert int(card.get_attribute("data-rows")) == rows
        assert int(card.get_attribute("data-bytes")) == rows * (width + 4)  # int8 and a float32 scale a row
        sparse = card.locator("pre.sparse-preview").inner_text()
        assert sparse.startswith("{") and "indices" not in sparse  # a {token: weight} map
        expect(card.locator("pre.scales-preview")).to_have_count(1)
    curl = page.locator("#panel-try pre.curl").inner_text()
    assert "# 1/2" in curl and "# 2/2" in curl
    assert '"colbert_format": "int8"' in curl and '"sparse_format": "token_map"' in curl
    screenshot(page, "try-forms")
    # the default forms: one request, as before
    page.select_option("#try-sparse-format", "indices")
    page.select_option("#try-colbert-format", "float")
    page.click("#try-run")
    expect(page.locator("#forms-output")).to_have_count(0)
    assert "colbert_format" not in page.locator("#panel-try pre.curl").inner_text()


@pytest.mark.parametrize(("locale", "viewport"), [("zh-CN", {"width": 390, "height": 800}), ("en-US", None)])
def test_labels_in_chinese_phone_width_and_axe(server, new_page, locale, viewport):
    page = new_page(locale=locale, viewport=viewport)
    run_rerank(page, server)
    if locale == "zh-CN":
        expect(page.locator("#hybrid-weights legend")).to_have_text("bge-m3 混合分数的权重")
        expect(page.locator("#rerank-hybrid h3")).to_contain_text("bge-m3 混合分数")
        expect(page.locator("#rerank-cross h3")).to_contain_text("交叉编码器")
        expect(page.locator("#hybrid-results li").first.locator("dt").first).to_have_text("稠密")
    page.click("#tab-try")
    page.select_option("#try-colbert-format", "binary")
    page.click("#try-run")
    expect(page.locator("#panel-try")).to_have_attribute("data-state", "done")
    if locale == "zh-CN":
        expect(page.locator("#try-forms legend")).to_have_text("输出形式：应用要存储的形式")
    found = []
    for tab in ("try", "rerank"):
        page.click(f"#tab-{tab}")
        expect(page.locator(f"#panel-{tab}")).to_be_visible()
        found += [f"[{tab}] axe {v}" for v in axe_violations(page)]
        if locale == "zh-CN":
            found += [f"[{tab}] {word}" for word in untranslated(page)]
        if viewport:
            scroll = page.evaluate("() => document.documentElement.scrollWidth")
            assert scroll <= viewport["width"], f"{tab}: {scroll} px wide on a {viewport['width']} px screen"
    assert not found, "\n".join(found)
    if viewport:
        screenshot(page, "rerank-hybrid-phone-zh")
