"""Open a local page in a real headless browser — Debian's chromium driven by Playwright
(installed by `make test` when missing) — and record every request it makes, so a test
can prove that a report opens offline. Skips with a reason when no browser is available."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# As the workplace's closed network needs: no background connections of Chromium's own.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
TEST_OUTPUT = Path(__file__).resolve().parent.parent / "test-output"


@dataclass
class Opened:
    text: str
    requests: list[str]


def open_offline(page_path: Path, *, fragment: str = "", screenshot: str | None = None,
                 wait_ms: int = 0) -> Opened:
    """Load ``page_path`` (plus ``fragment``); the body text and every requested URL."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: browser rendering not checked")
    exe = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not exe:
        pytest.skip("Debian chromium is missing (make test installs it as root): browser rendering not checked")
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_path.as_uri() + fragment, wait_until="load")
        if wait_ms:
            page.wait_for_timeout(wait_ms)
        text = page.inner_text("body")
        if screenshot:
            TEST_OUTPUT.mkdir(exist_ok=True)
            page.screenshot(path=str(TEST_OUTPUT / screenshot), full_page=True)
        browser.close()
    return Opened(text, requests)
