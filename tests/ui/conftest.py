"""Browser fixtures: Playwright driving Debian's chromium (Playwright's own browser download is not used).

Tests skip with the reason when playwright or /usr/bin/chromium is missing (CI installs both:
``apt-get install -y chromium`` and the test extra). Each test gets a fresh browser context (so a fresh
sessionStorage) that records console errors and page errors; a Content-Security-Policy violation or a
script error fails the test. Screenshots go to ``.cache/ui-screenshots/`` (or ``$BGE_LOCAL_UI_SCREENSHOTS``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.browser import CHROMIUM, CHROMIUM_ARGS

# CI sets it: there a missing browser is a failure, not a skip.
REQUIRED = os.environ.get("BGE_LOCAL_REQUIRE_BROWSER") == "1"


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"BGE_LOCAL_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """One chromium per test module. Not per session: Playwright's sync API keeps an asyncio loop running in the
    main thread while it is started, and every ``asyncio.run`` in a later test (tests/unit's) would fail."""
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright; it comes with the test extra)")
    expect.set_options(timeout=60_000)  # a bound, not a wait: assertions return as soon as they hold
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        _unavailable(f"no chromium at {CHROMIUM}: apt-get install -y chromium (or set BGE_LOCAL_CHROMIUM)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Console:
    """What the page reported: console errors and uncaught exceptions."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def attach(self, page) -> None:
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))


@pytest.fixture
def new_page(browser):
    """``new_page(locale="en-US", viewport=None)`` -> a page in a fresh context; fails the test on any page error."""
    contexts, console, allowed = [], Console(), ["401"]

    def make(locale: str = "en-US", viewport: dict | None = None):
        context = browser.new_context(locale=locale, viewport=viewport or {"width": 1280, "height": 900})
        context.set_default_timeout(60_000)
        contexts.append(context)
        page = context.new_page()
        console.attach(page)
        return page

    make.allow = allowed.append  # new_page.allow("ERR_CONNECTION_REFUSED"): an error the test provokes on purpose
    yield make
    for context in contexts:
        context.close()
    # 401s the page provokes on purpose (the key gate) show up as failed-resource errors; nothing else may.
    unexpected = [e for e in console.errors if not any(a in e for a in allowed)]
    assert not unexpected, unexpected

