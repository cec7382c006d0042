"""WCAG 2.1 AA basics of the console, checked in the browser: axe-core finds no serious or critical violation on
any tab (results shown, both languages, desktop and phone), headings, the tabs pattern with arrow keys, live
regions, and a name of its own for every button."""

from __future__ import annotations

import pytest
from support.browser import screenshot
from support.console_checks import axe_violations
from test_console_language_layout import TABS, fill_every_panel

pytest.importorskip("playwright")
from playwright.sync_api import expect


@pytest.mark.parametrize(("locale", "viewport"), [("en-US", None), ("zh-CN", {"width": 390, "height": 800})])
def test_axe_finds_no_serious_violation(server, new_page, locale, viewport):
    page = new_page(locale=locale, viewport=viewport)
    fill_every_panel(page, server)
    found: list[str] = []
    for tab in TABS:
        page.click(f"#tab-{tab}")
        expect(page.locator(f"#panel-{tab}")).to_be_visible()
        found += [f"[{tab}] {v}" for v in axe_violations(page)]
        if viewport is None and locale == "en-US":
            screenshot(page, tab)
    assert not found, "\n".join(found)


def test_the_key_gate_passes_axe(keyed_server, new_page):
    page = new_page()
    page.goto(f"{keyed_server.url}/ui/")
    expect(page.locator("#gate")).to_be_visible()
    assert axe_violations(page) == []


def test_headings_tabs_live_regions_and_names(server, new_page):
    page = new_page()
    fill_every_panel(page, server)
    expect(page.locator("h1")).to_have_count(1)
    expect(page.locator("h1")).to_be_visible()
    expect(page.locator("#lead")).to_be_visible()
    expect(page.locator("#steps li")).to_have_count(3)
    expect(page.locator("#step-ready")).to_have_attribute("data-done", "true")

    # the tabs pattern: tablist, tab ↔ tabpanel, one tab in the tab order, arrow keys move and select
    for tab in TABS:
        expect(page.locator(f"#tab-{tab}")).to_have_attribute("aria-controls", f"panel-{tab}")
        panel = page.locator(f"#panel-{tab}")
        expect(panel).to_have_attribute("role", "tabpanel")
        expect(panel).to_have_attribute("aria-labelledby", f"tab-{tab}")
        expect(panel.locator("h2")).to_have_count(1)
    page.click("#tab-status")
    page.focus("#tab-status")
    for key, want in (("ArrowRight", "try"), ("ArrowRight", "rerank"), ("End", "connect"), ("ArrowRight", "status"),
                      ("ArrowLeft", "connect"), ("Home", "status")):
        page.keyboard.press(key)
        expect(page.locator(f"#tab-{want}")).to_be_focused()
        expect(page.locator(f"#tab-{want}")).to_have_attribute("aria-selected", "true")
        expect(page.locator(f"#tab-{want}")).to_have_attribute("tabindex", "0")
        expect(page.locator(f"#panel-{want}")).to_be_visible()
        expect(page.locator("[role=tab][tabindex='0']")).to_have_count(1)

    for selector in ("#banner", "#try-error", "#rerank-error", "#connect-error", "#gate-error"):
        expect(page.locator(selector)).to_have_attribute("role", "alert")
    for selector in ("#try-status", "#rerank-status", "#connection"):
        expect(page.locator(selector)).to_have_attribute("aria-live", "polite")
    expect(page.locator("#try-status")).to_have_text("Embedded 4 texts.")

    # every Copy and Test button has a name of its own
    page.click("#tab-connect")
    names = page.evaluate("""() => [...document.querySelectorAll(
        '#panel-connect button.copy, #panel-connect .test-button')]
        .map(b => b.getAttribute('aria-label') || b.textContent)""")
    assert len(names) >= 30 and len(set(names)) == len(names), [n for n in names if names.count(n) > 1]


def test_try_and_rerank_refuse_empty_input_and_explain_zero_weights(server, new_page):
    page = new_page()
    page.goto(f"{server.url}/ui/#rerank")
    page.fill("#rerank-query", "   ")
    page.click("#rerank-run")
    expect(page.locator("#rerank-error")).to_have_text("Enter a query.")
    expect(page.locator("#panel-rerank")).to_have_attribute("data-state", "refused")
    page.fill("#rerank-query", "capital of France")
    page.click("#rerank-run")
    expect(page.locator("#panel-rerank")).to_have_attribute("data-state", "done")
    curl = page.locator("#panel-rerank pre.curl").inner_text()
    # the cross-encoder's two requests and the M3 hybrid's one; each answer ends its own line
    assert curl.count("curl ") == 3 and curl.count("-w '\\n'") == 3
    assert "# 1/3" in curl and "# 2/3" in curl and "# 3/3" in curl

    page.click("#tab-try")
    page.fill("#try-texts", "\n  \n")
    page.click("#try-run")
    expect(page.locator("#try-error")).to_have_text("Enter at least one text.")
    page.fill("#try-texts", "What is BGE M3?\nBGE M3 is an embedding model.\nParis is the capital of France.")
    page.click("#try-run")
    expect(page.locator("#panel-try")).to_have_attribute("data-state", "done")
    # the word-boundary piece has a visible label
    for token in page.locator("#sparse-tokens li code.token").all():
        assert token.inner_text().strip(), "a token shown as a blank label"
    # the combined colours span the off-diagonal scores: the highest of those gets the top colour
    colours = page.evaluate("""() => [...document.querySelectorAll('#combined-matrix td')].map(td =>
        ({diag: td.dataset.i === td.dataset.j, value: +td.dataset.value, bg: getComputedStyle(td).backgroundColor}))""")
    off = [c for c in colours if not c["diag"]]
    top = max(off, key=lambda c: c["value"])
    darkest = min(colours, key=lambda c: sum(int(x) for x in c["bg"][4:-1].split(",")))
    assert top["bg"] == darkest["bg"], (top, darkest)
    for name in ("dense", "sparse", "colbert"):
        page.locator(f"#weight-{name}").fill("0")
    expect(page.locator("#combined-zero")).to_be_visible()
    expect(page.locator("#combined-matrix")).to_have_count(0)


def test_with_a_key_the_curls_say_to_export_it_first(keyed_server, new_page):
    page = new_page()
    page.goto(f"{keyed_server.url}/ui/#rerank")
    page.fill("#gate-key", keyed_server.api_key)
    page.click("#gate-form button[type=submit]")
    page.click("#rerank-run")
    expect(page.locator("#panel-rerank")).to_have_attribute("data-state", "done")
    expect(page.locator("#panel-rerank .export-note")).to_contain_text("export BGE_LOCAL_API_KEY=")
    curl = page.locator("#panel-rerank pre.curl").inner_text()
    assert curl.startswith("# ") and "# export BGE_LOCAL_API_KEY=" in curl
    assert "$BGE_LOCAL_API_KEY" in curl and keyed_server.api_key not in curl
