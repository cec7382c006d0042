"""Playwright on Debian's chromium (Playwright's own browser download is not used), and where screenshots go."""

from __future__ import annotations

import os
from pathlib import Path

from support.server import REPO

CHROMIUM = os.environ.get("BGE_LOCAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(os.environ.get("BGE_LOCAL_UI_SCREENSHOTS", REPO / ".cache" / "ui-screenshots"))


def screenshot(page, name: str, full_page: bool = True) -> Path:
    """A PNG of ``page`` (the whole page, or what the screen shows) as ``SCREENSHOTS/name.png`` (the README's
    pictures in docs/img come from these: ``console-<name>.png``)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")  # a sticky header stays at the top of the picture
    page.screenshot(path=str(path), full_page=full_page)
    return path
