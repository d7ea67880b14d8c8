"""The report opens in a real headless browser (Debian chromium via Playwright) with no
network request other than the file itself; a screenshot goes to test-output/."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
from browser import open_offline

from pipelines.quality.report import write_report


def _open(page_path: Path, shot: str) -> tuple[list[str], str]:
    opened = open_offline(page_path, screenshot=shot)
    return opened.requests, opened.text


def test_report_renders_offline(tmp_path, warehouse, catalogue):
    con = duckdb.connect(str(warehouse), read_only=True)
    res = write_report(tmp_path, con, catalogue, dt.date(2025, 10, 21))
    con.close()
    requests, text = _open(res["report"], "quality_report.png")
    assert requests == [res["report"].as_uri()], requests
    for word in ("完整性", "有效性", "唯一性", "及时性", "一致性", "市场监督管理局", "生态环境局"):
        assert word in text
    assert "360402199001010071" not in text and "3604**********0071" in text


def test_history_index_renders_offline(tmp_path, warehouse, catalogue):
    con = duckdb.connect(str(warehouse), read_only=True)
    write_report(tmp_path, con, catalogue, dt.date(2025, 10, 14))
    res = write_report(tmp_path, con, catalogue, dt.date(2025, 10, 21))
    con.close()
    requests, text = _open(res["index"], "quality_history.png")
    assert requests == [res["index"].as_uri()], requests
    assert "2025-10-14" in text and "2025-10-21" in text
