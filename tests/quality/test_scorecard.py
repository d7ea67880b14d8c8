"""Exact metric arithmetic on the hand-built warehouse (see conftest for the known errors)."""

import csv

import duckdb
import pandas as pd
import pytest

from pipelines.quality.scorecard import compute_scorecard, rejected_rows_frame, score
from tests.quality.conftest import ID_NO

N_REQ = 13  # unconditionally required fields of admin_penalty


@pytest.fixture(scope="module")
def sc(warehouse, catalogue):
    con = duckdb.connect(str(warehouse), read_only=True)
    yield compute_scorecard(con, catalogue)
    con.close()


def test_required_field_count(catalogue):
    assert len(catalogue.categories["admin_penalty"].required_fields) == N_REQ


def test_completeness(sc):
    scjg = sc.department("scjg")
    # 6 raw rows × (13 + uscc + legal_rep) + 1 fine (罚款) ; r5: 13+3 with 2 empty ; r3 (自然人): 13+2
    assert scjg["counts"]["checks_total"] == 6 * (N_REQ + 2) + 1 + (N_REQ + 3) + (N_REQ + 2) == 122
    assert scjg["counts"]["checks_filled"] == 120
    assert scjg["dims"]["completeness"] == pytest.approx(120 / 122)
    assert sc.department("sthj")["dims"]["completeness"] == 1.0


def test_validity_and_rules(sc):
    scjg, sthj = sc.department("scjg"), sc.department("sthj")
    assert scjg["counts"]["rows_delivered"] == 8 and scjg["counts"]["rows_rejected"] == 2
    assert scjg["dims"]["validity"] == pytest.approx(0.75)
    assert scjg["categories"][0]["rules"] == {"enum": 1, "required": 1, "required_when": 1}
    assert sthj["dims"]["validity"] == pytest.approx(0.5)
    assert [(r["rule_id"], r["rows"]) for r in sthj["top_reasons"]] == [("rejected_file", 2)]


def test_uniqueness(sc):
    scjg = sc.department("scjg")
    assert (scjg["counts"]["rows_superseded"], scjg["counts"]["rows_duplicate"]) == (1, 3)
    assert scjg["dims"]["uniqueness"] == pytest.approx(5 / 9)
    assert sc.department("sthj")["dims"]["uniqueness"] == 1.0


def test_timeliness(sc):
    scjg = sc.department("scjg")
    assert (scjg["counts"]["timely_on_time"], scjg["counts"]["timely_measured"]) == (4, 6)
    assert scjg["counts"]["timely_lag_sum"] == 1 + 4 + 11 + 3 + 11 + 7
    assert sc.department("sthj")["dims"]["timeliness"] == 1.0
    assert sc.department("sthj")["rates"]["avg_lag"] == pytest.approx(5.5)


def test_consistency(sc):
    scjg, sthj = sc.department("scjg"), sc.department("sthj")
    assert scjg["dims"]["consistency"] == pytest.approx(3 / 5)
    assert scjg["rates"]["repaired_share"] == pytest.approx(1 / 5)
    assert scjg["rates"]["unresolved_share"] == pytest.approx(1 / 5)
    assert scjg["rates"]["conflict_share"] == pytest.approx(1 / 5)
    assert sthj["dims"]["consistency"] == pytest.approx(1 / 2) and sthj["rates"]["unknown_share"] == pytest.approx(1 / 2)


def test_score_and_thresholds(sc):
    w = {"completeness": 0.25, "validity": 0.30, "uniqueness": 0.10, "timeliness": 0.20, "consistency": 0.15}
    scjg = sc.department("scjg")
    expected = 100 * (0.25 * 120 / 122 + 0.30 * 0.75 + 0.10 * 5 / 9 + 0.20 * 4 / 6 + 0.15 * 0.6)
    assert scjg["score"] == pytest.approx(expected)
    keys = {(b["key"], b["severity"]) for b in scjg["breaches"]}
    assert ("validity", "ERROR") in keys and ("rejection_rate", "WARN") in keys and ("late_share", "WARN") in keys
    # Renormalised when a dimension is missing.
    assert score({"validity": 0.5, "consistency": None}, w) == pytest.approx(50.0)


def test_trend_per_batch(sc):
    t = {x["batch"]: x for x in sc.department("scjg")["trend"]}
    assert list(t) == ["20251009", "20251020", "20251020_2"]
    assert t["20251009"]["dims"]["validity"] == pytest.approx(4 / 5)
    assert t["20251020"]["dims"]["validity"] == pytest.approx(2 / 3)
    assert t["20251020"]["dims"]["timeliness"] == pytest.approx(1 / 2)


def test_masked_examples_and_csv(sc, warehouse, catalogue, tmp_path):
    text = str(sc.department("scjg")["top_reasons"])
    assert ID_NO not in text and "3604**********0071" in text
    con = duckdb.connect(str(warehouse), read_only=True)
    frame = rejected_rows_frame(con, catalogue, "scjg")
    con.close()
    path = tmp_path / "r.csv"
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and ID_NO.encode() not in raw
    rows = list(csv.DictReader(path.open(encoding="utf-8-sig")))
    assert len(rows) == 2 and rows[0]["来源文件"].startswith("scjg/")


def test_rejected_csv_is_written_as_pandas_writes_it(tmp_path):
    """The report's CSV writer (Polars) gives the bytes pandas' ``to_csv`` gave: BOM, header,
    quotes only around a comma, a quote or a newline, dates as YYYY-MM-DD, a missing value
    and an empty string both empty."""
    from pipelines.quality.report import write_csv

    frame = pd.DataFrame({
        "来源文件": ["a/20260101/x.csv", "", None, "逗号,在内", '引号"在内', "换行\n在内", "  空格 ", "#", "NaN"],
        "行号": [1, 2, 3, 4, 5, 6, 7, 8, 9],
        "报送日期": pd.to_datetime(["2026-01-01", None, "2026-12-31", "2026-01-01", "2026-01-01", "2026-01-01",
                                "2026-01-01", "2026-01-01", "2026-01-01"]),
        "原始数据（已脱敏）": ['{"统一社会信用代码": "9135**********0Y43", "注册号": null}', *["x"] * 8],
    })
    write_csv(frame, tmp_path / "polars.csv")
    frame.to_csv(tmp_path / "pandas.csv", index=False, encoding="utf-8-sig")
    assert (tmp_path / "polars.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


def test_without_codes_tables(warehouse_no_codes, catalogue):
    con = duckdb.connect(str(warehouse_no_codes), read_only=True)
    sc = compute_scorecard(con, catalogue)
    con.close()
    assert not sc.has_codes
    scjg = sc.department("scjg")
    assert scjg["dims"]["consistency"] is None
    expected = 100 * (0.25 * 120 / 122 + 0.30 * 0.75 + 0.10 * 5 / 9 + 0.20 * 4 / 6) / 0.85
    assert scjg["score"] == pytest.approx(expected)
