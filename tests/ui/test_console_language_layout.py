"""The console in Chinese with no word left in English, every label in both languages, a phone-sized screen
without horizontal scrolling, and charts that read well with 0, 1, 2 and many samples."""

from __future__ import annotations

import re

import httpx
import pytest
from support.browser import screenshot
from support.console_checks import untranslated

from local_server.console.routes import UI_DIR

pytest.importorskip("playwright")
from playwright.sync_api import expect

TABS = ["status", "try", "rerank", "connect"]


def fill_every_panel(page, server) -> None:
    """Open each tab and run what it runs, so that results, tables and test outcomes are on the page."""
    httpx.post(server.url + "/v1/embeddings", json={"input": ["traffic"]}, headers=server.headers(), timeout=60)
    page.goto(f"{server.url}/ui/#status")
    expect(page.locator("#readiness")).to_have_attribute("data-state", "ok")
    page.click("#tab-try")
    page.click("#try-run")
    expect(page.locator("#panel-try")).to_have_attribute("data-state", "done")
    page.click("#tab-rerank")
    page.click("#rerank-run")
    expect(page.locator("#panel-rerank")).to_have_attribute("data-state", "done")
    page.click("#tab-connect")
    expect(page.locator("#panel-connect")).to_have_attribute("data-state", "done")
    page.click("#connect-test-all")
    done = ".test-result[data-ok='true'], .test-result[data-ok='false'], .test-result[data-ok='skip']"
    expect(page.locator(done)).to_have_count(page.locator("tr.connect-row .test-button").count())


def test_every_label_exists_in_both_languages(server, new_page):
    page = new_page()
    page.goto(f"{server.url}/ui/")
    keys = page.evaluate("async () => (await import('./i18n.js')).keys")
    assert keys["en"] and set(keys["en"]) == set(keys["zh"])
    used = set()
    for path in UI_DIR.glob("*.js"):
        used |= set(re.findall(r"\btf?\(\"([a-z_.]+)\"", path.read_text()))
    used |= set(re.findall(r'data-i18n(?:-[a-z-]+)?="([a-z_.]+)"', (UI_DIR / "index.html").read_text()))
    assert used and not used - set(keys["en"]), sorted(used - set(keys["en"]))


def test_zh_cn_shows_no_untranslated_word(server, new_page):
    page = new_page(locale="zh-CN")
    fill_every_panel(page, server)
    left: list[str] = []
    for tab in TABS:
        page.click(f"#tab-{tab}")
        expect(page.locator(f"#panel-{tab}")).to_be_visible()
        left += [f"[{tab}] {word}" for word in untranslated(page)]
    assert not left, "\n".join(left)
    # the sample texts are Chinese; times are 24-hour; the uptime has Chinese units
    expect(page.locator("#rerank-query")).to_have_value(re.compile(r"[\u4e00-\u9fff]"))
    page.click("#tab-status")
    expect(page.locator("#server-meta")).to_contain_text("已运行")
    expect(page.locator("#chart-throughput .u-legend")).to_contain_text("时间")
    screenshot(page, "status-zh")
    page.click("#tab-connect")
    screenshot(page, "connect-zh", full_page=False)


# Buttons, scores, test results and tabs that stick out of a screen `w` px wide, by name and extent.
OUTSIDE_JS = """(w) => [...document.querySelectorAll(
    '#app button, #rerank-results .num, .test-result, #tabs [role=tab]')]
  .filter(e => e.checkVisibility())
  .map(e => [e.id || e.className || e.textContent, e.getBoundingClientRect()])
  .filter(([, r]) => r.right > w + 0.5 || r.left < -0.5)
  .map(([n, r]) => n + ' ' + r.left + '..' + r.right)"""


# --- a phone ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("width", [360, 390, 430])
def test_phone_width_has_no_horizontal_scroll(server, new_page, width):
    locale = "zh-CN" if width == 390 else "en-US"
    page = new_page(locale=locale, viewport={"width": width, "height": 800})
    fill_every_panel(page, server)
    for tab in TABS:
        page.click(f"#tab-{tab}")
        expect(page.locator(f"#panel-{tab}")).to_be_visible()
        scroll = page.evaluate("() => document.documentElement.scrollWidth")
        assert scroll <= width, f"{tab}: the page is {scroll} px wide on a {width} px screen"
        # every button and result lies within the screen, on the right of its card
        outside = page.evaluate(OUTSIDE_JS, width)
        assert not outside, (tab, outside)
    tops = {round(box["y"]) for box in (page.locator(f"#tab-{tab}").bounding_box() for tab in TABS)}
    assert len(tops) <= 2, f"the tabs take {len(tops)} rows"
    page.click("#tab-rerank")
    for card in page.locator("#rerank-results li").all():  # the scores stay inside their cards
        outer = card.bounding_box()
        for score in card.locator(".num").all():
            inner = score.bounding_box()
            assert outer["x"] <= inner["x"] and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 0.5
    if width in (390, 430):  # the README's phone pictures: what the screen shows on each tab
        for tab in TABS:
            page.click(f"#tab-{tab}")
            page.evaluate("window.scrollTo(0, 0)")
            screenshot(page, f"{tab}-phone-{locale[:2]}", full_page=False)


# --- charts -------------------------------------------------------------------------------------------------------

CHART_JS = """async (n) => {
  const { Chart } = await import('./status.js');
  const holder = document.createElement('div');
  holder.className = 'chart';
  document.querySelector('#panel-status').append(holder);
  const now = Math.floor(Date.now() / 1000);
  const times = Array.from({ length: n }, (_, i) => now - (n - 1 - i) * 2);
  const chart = new Chart(holder, 'unit.tokens_per_s', false);
  chart.update(times, [{ label: 'embedding', values: times.map((_, i) => 10 + i) }]);
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));  // uPlot draws on a frame
  const x = chart.plot.scales.x;
  const out = { min: x.min, max: x.max, labels: chart.plot.axes[0]._values, empty: !chart.empty.hidden };
  chart.plot.destroy();
  holder.remove();
  return out;
}"""


@pytest.mark.parametrize("samples", [0, 1, 2, 300])
def test_the_time_axis_reads_well_with_few_and_many_samples(server, new_page, samples):
    page = new_page()
    page.goto(f"{server.url}/ui/#status")
    expect(page.locator("#readiness")).to_have_attribute("data-state", "ok")
    shown = page.evaluate(CHART_JS, samples)
    span = shown["max"] - shown["min"]
    assert 60 <= span <= max(60, 2 * samples) + 1, span  # not "2027 to 2029" for one sample
    assert shown["labels"], shown
    for label in shown["labels"]:
        assert re.fullmatch(r"\d\d:\d\d(:\d\d)?", label), label  # no ":53.750", no US date
    assert shown["empty"] == (samples == 0)
