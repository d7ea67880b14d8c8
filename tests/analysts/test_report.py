"""`credit report CODE`: the printable subject report (信用报告)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from analysts_fixture import AS_OF, LISTED, PAST_AS_OF, PENALISED, PERSON_ID, PERSON_MASKED
from browser import open_offline

from pipelines.settings import Paths
from pipelines.warehouse.report import SubjectNotFound, subject_report_main, write_subject_report


@pytest.fixture(scope="module")
def report(analysts_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("subjects")
    with duckdb.connect(str(analysts_warehouse), read_only=True) as con:
        return write_subject_report(con, PENALISED, out)


def test_report_contents(report: Path):
    assert report.name == f"{PENALISED}.html"
    html = report.read_text(encoding="utf-8")
    for text in ("信用报告", "分析0有限公司", PENALISED, "等级历史", "评分构成", "遵纪守法", "公示信息",
                 "CF-1", "信用修复", "终止公示", "CF-2", "异议", "YY-3", "处理中", "@media print", "<svg",
                 AS_OF, PAST_AS_OF, "scjg/20260605/admin_penalty.csv#1"):
        assert text in html, text
    assert html.count("<circle") == 2  # two evaluations in the history chart


def test_report_is_self_contained_and_masked(report: Path):
    html = report.read_text(encoding="utf-8")
    assert not re.search(r"https?://|\bsrc=|<link|@import|url\(", html, re.I)
    assert PERSON_ID not in html and PERSON_MASKED in html


def test_report_as_of_and_overrides(analysts_warehouse: Path, tmp_path: Path):
    with duckdb.connect(str(analysts_warehouse), read_only=True) as con:
        past = write_subject_report(con, PENALISED, tmp_path / "past", as_of=PAST_AS_OF).read_text("utf-8")
        listed = write_subject_report(con, LISTED, tmp_path).read_text("utf-8")
    assert past.count("<circle") == 1 and AS_OF not in past.split("<footer")[0].split("等级历史")[1]
    assert "严重失信主体名单" in listed and "SX-1" in listed


def test_unknown_subject_raises(analysts_warehouse: Path, tmp_path: Path):
    with duckdb.connect(str(analysts_warehouse), read_only=True) as con:
        with pytest.raises(SubjectNotFound):
            write_subject_report(con, "不存在的主体名称XYZ", tmp_path)
        with pytest.raises(SubjectNotFound) as ambiguous:  # a partial name naming several subjects
            write_subject_report(con, "分析1", tmp_path)
    assert len(ambiguous.value.result["candidates"]) > 1


def test_main_writes_under_reports(analysts_data_dir: Path):
    path = subject_report_main(PENALISED, paths=Paths(analysts_data_dir))
    assert path == analysts_data_dir / "reports" / "subjects" / f"{PENALISED}.html"


def test_report_renders_offline(report: Path):
    opened = open_offline(report, screenshot="subject_report.png")
    text, requests = opened.text, opened.requests
    assert requests == [report.as_uri()]
    assert "信用报告" in text and "分析0有限公司" in text
