"""The console when the server stops mid-visit and another starts on the same port: an honest state, then recovery.

A server of its own (the session's servers must stay up): the page is open on Status, the process is stopped, and
the page must say so — unreachable since a time, in the page's language, the old data dimmed — instead of staying
green. Connect opened while the server is down shows the translated error; when a new server answers on the same
address, every panel recovers without a reload.
"""

from __future__ import annotations

import pytest
from support.browser import screenshot
from support.server import ServerProcess

pytest.importorskip("playwright")
from playwright.sync_api import expect


def test_outage_is_shown_and_every_panel_recovers(tiny_models, tmp_path, new_page):
    locale = "zh-CN"  # the messages must be translated too
    first = ServerProcess(tiny_models, log_dir=tmp_path).start()
    second = ServerProcess(tiny_models, log_dir=tmp_path, wait_ready=True)
    second.port, second.url = first.port, first.url  # the same address: what a restart looks like to the page
    try:
        page = new_page(locale=locale)
        new_page.allow("net::ERR_CONNECTION_REFUSED")  # the browser logs each poll the stopped server refuses
        page.goto(f"{first.url}/ui/#status")
        expect(page.locator("#readiness")).to_have_attribute("data-state", "ok")
        expect(page.locator("#connection")).to_have_attribute("data-state", "reachable")
        expect(page.locator("#banner")).to_be_hidden()

        first.stop()
        expect(page.locator("#connection")).to_have_attribute("data-state", "unreachable")
        expect(page.locator("#readiness")).to_have_attribute("data-state", "down")  # not a green "ready"
        expect(page.locator("#app")).to_have_attribute("data-stale", "true")
        expect(page.locator("#step-ready")).to_have_attribute("data-done", "false")
        expect(page.locator("#models-holder")).to_have_css("opacity", "0.45")
        banner = page.locator("#banner")
        expect(banner).to_be_visible()
        expect(banner).to_have_attribute("role", "alert")
        since = page.locator("#connection").inner_text()
        assert any(ch.isdigit() for ch in since), since  # "unreachable since HH:MM:SS"
        for raw in ("TypeError", "Failed to fetch", "NetworkError"):
            expect(banner).not_to_contain_text(raw)
        expect(banner).to_contain_text("服务器自")
        expect(page.locator("#readiness")).to_contain_text("无法连接")
        screenshot(page, f"outage-{locale}")

        page.click("#tab-connect")  # opened while the server is down: an error, then the table once it is back
        expect(page.locator("#connect-error")).to_be_visible()
        expect(page.locator("#connect-error")).not_to_contain_text("TypeError")
        expect(page.locator("tr.connect-row")).to_have_count(0)

        second.start()
        expect(page.locator("#connection")).to_have_attribute("data-state", "reachable")
        expect(page.locator("#banner")).to_be_hidden()
        expect(page.locator("#app")).to_have_attribute("data-stale", "false")
        expect(page.locator("#step-ready")).to_have_attribute("data-done", "true")
        expect(page.locator("#panel-connect")).to_have_attribute("data-state", "done")
        expect(page.locator("tr.connect-row").first).to_be_visible()
        expect(page.locator("#connect-error")).to_be_hidden()
        page.click("#tab-status")
        expect(page.locator("#readiness")).to_have_attribute("data-state", "ok")
        expect(page.locator("#models-holder")).to_have_css("opacity", "1")
    finally:
        first.stop()
        second.stop()
