"""The report opens in a real headless browser (Debian chromium via Playwright) with no
network request other than the file itself; a screenshot goes to test-output/."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.quality.report import write_report

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
OUT = Path(__file__).resolve().parents[2] / "test-output"


def _browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (uv pip install playwright); browser rendering not checked")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Debian chromium is missing (apt-get install -y chromium); browser rendering not checked")
    return sync_playwright


def _open(page_path: Path, shot: Path):
    sync_playwright = _browser()
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_path.as_uri(), wait_until="load")
        text = page.inner_text("body")
        OUT.mkdir(exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    return requests, text


def test_report_renders_offline(tmp_path, warehouse, catalogue):
    con = duckdb.connect(str(warehouse), read_only=True)
    res = write_report(tmp_path, con, catalogue, dt.date(2025, 10, 21))
    con.close()
    requests, text = _open(res["report"], OUT / "quality_report.png")
    assert requests == [res["report"].as_uri()], requests
    for word in ("完整性", "有效性", "唯一性", "及时性", "一致性", "市场监督管理局", "生态环境局"):
        assert word in text
    assert "360402199001010071" not in text and "3604**********0071" in text


def test_history_index_renders_offline(tmp_path, warehouse, catalogue):
    con = duckdb.connect(str(warehouse), read_only=True)
    write_report(tmp_path, con, catalogue, dt.date(2025, 10, 14))
    res = write_report(tmp_path, con, catalogue, dt.date(2025, 10, 21))
    con.close()
    requests, text = _open(res["index"], OUT / "quality_history.png")
    assert requests == [res["index"].as_uri()], requests
    assert "2025-10-14" in text and "2025-10-21" in text
