"""Department extracts on a hand-made marts layer: contents, formats, manifest hashes,
safety, determinism, atomic replacement."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
from deliver_fixture import AS_OF, PERSON_ID, TRICKY_NAMES

from pipelines.deliver import extracts

GRADE_HEADERS = ["统一社会信用代码", "主体名称", "信用等级", "综合评价得分", "评级理由", "评价模型版本", "评价日期"]


@pytest.fixture
def extract(con, tmp_path):
    return extracts.write_department_extract(con, "scjg", AS_OF, tmp_path / "exports")


def test_layout_and_manifest(extract, con):
    d = extract.path
    assert d == d.parent.parent / "scjg" / AS_OF
    names = sorted(p.name for p in d.iterdir())
    assert names == sorted([f"{n}.{f}" for n in ("grades", "inspection_draw", "code_corrections")
                            for f in ("csv", "xlsx", "parquet")] + ["manifest.json"])
    m = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    assert m["as_of"] == AS_OF and m["model_version"] == "v1" and m["department_code"] == "scjg"
    assert m["department_name"] == "市场监督管理局" and m["period"] == "2026-Q4" and m["draw_version"] == 1
    assert {p["grade"]: p["sample_size"] for p in m["plan"]} == dict(
        con.execute("select grade, sample_size from marts.sampling_plan").fetchall())
    for f in m["files"]:
        data = (d / f["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["bytes"]
    rows = {f["dataset"]: f["rows"] for f in m["files"]}
    assert rows["grades"] == 30
    assert rows["inspection_draw"] == con.execute("select count(*) from marts.inspection_draw").fetchall()[0][0]
    assert rows["code_corrections"] == 0
    assert not any(p.name.startswith(".") for p in d.parent.iterdir()), "no temp folder left behind"


def test_csv_is_excel_friendly_and_reads_back(extract):
    raw = (extract.path / "grades.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\r\n") == 31 and b"\n" not in raw.replace(b"\r\n", b"")
    df = pl.read_csv(extract.path / "grades.csv", infer_schema=False)
    assert df.columns[:7] == GRADE_HEADERS
    assert df["统一社会信用代码"].to_list() == sorted(df["统一社会信用代码"].to_list())
    assert df.filter(pl.col("主体标识") == "91130100MA0000502X")["本期可抽取"].item() == "否"


def test_xlsx_reads_back_with_codes_as_text(extract):
    df = pl.read_excel(extract.path / "grades.xlsx", sheet_name="信用等级")
    assert df.columns[:7] == GRADE_HEADERS and df.height == 30
    assert df.schema["统一社会信用代码"] == pl.Utf8 and df.schema["行政区划代码"] == pl.Utf8
    assert df["行政区划代码"].to_list()[0] in ("130102", "130104")
    assert df.schema["综合评价得分"] == pl.Float64
    draw = pl.read_excel(extract.path / "inspection_draw.xlsx")
    assert draw.height > 0 and draw["检查人员1（姓名及执法证号）"].str.contains("（SC-").all()


def test_parquet_matches_csv(extract):
    pq = pl.read_parquet(extract.path / "inspection_draw.parquet")
    csv = pl.read_csv(extract.path / "inspection_draw.csv", infer_schema=False)
    assert pq.columns == csv.columns and pq.height == csv.height
    assert pq["抽签值"].to_list() == csv["抽签值"].to_list()


def test_formula_injection_and_id_numbers(extract):
    expected = {TRICKY_NAMES[3], TRICKY_NAMES[4], TRICKY_NAMES[5], TRICKY_NAMES[6], TRICKY_NAMES[7]}
    for fmt, read in (("csv", lambda p: pl.read_csv(p, infer_schema=False)), ("xlsx", pl.read_excel),
                      ("parquet", pl.read_parquet)):
        names = set(read(extract.path / f"grades.{fmt}")["主体名称"].to_list())
        assert {"'" + n for n in expected} <= names, fmt
        assert not any(n.startswith(("=", "+", "-", "@", "\t")) for n in names), fmt
        assert f"个体户张三（{PERSON_ID[:4]}**********{PERSON_ID[-4:]}）" in names, fmt
    for p in extract.path.iterdir():
        if p.suffix in (".csv", ".json"):
            assert PERSON_ID not in p.read_text(encoding="utf-8-sig")
    # formulas are never written as formulas into the workbook
    import zipfile
    with zipfile.ZipFile(extract.path / "grades.xlsx") as z:
        assert all(b"<f>" not in z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/"))


def test_rerun_writes_identical_files(con, extract, tmp_path):
    before = {p.name: p.read_bytes() for p in extract.path.iterdir()}
    again = extracts.write_department_extract(con, "scjg", AS_OF, tmp_path / "exports", force=True)
    assert again.path == extract.path and again.draw.status == "unchanged" and again.written
    assert {p.name: p.read_bytes() for p in again.path.iterdir()} == before
    other = extracts.write_department_extract(con, "scjg", AS_OF, tmp_path / "elsewhere")
    assert {p.name: p.read_bytes() for p in other.path.iterdir()} == before


def test_an_unchanged_extract_is_kept(con, extract, tmp_path, monkeypatch):
    """Same content → the extract in place is kept (its files are what would be written);
    a damaged file or changed content → written again."""
    written = []
    real = extracts.write_csv
    monkeypatch.setattr(extracts, "write_csv", lambda df, path: (written.append(path.name), real(df, path)))
    again = extracts.write_department_extract(con, "scjg", AS_OF, tmp_path / "exports")
    assert not again.written and written == [] and again.manifest == extract.manifest
    assert again.manifest["content_digest"] == extract.manifest["content_digest"]

    (extract.path / "grades.csv").write_bytes(b"truncated")
    repaired = extracts.write_department_extract(con, "scjg", AS_OF, tmp_path / "exports")
    assert repaired.written and "grades.csv" in written
    assert (extract.path / "grades.csv").stat().st_size == extract.manifest["files"][0]["bytes"]

    written.clear()
    con.execute("update marts.credit_grades set score = score + 1 where subject_id = "
                "(select min(subject_id) from marts.sampling_candidates where department_code = 'scjg')")
    changed = extracts.write_department_extract(con, "scjg", AS_OF, tmp_path / "exports")
    assert changed.written and written
    assert changed.manifest["content_digest"] != extract.manifest["content_digest"]


def test_a_failed_write_leaves_the_previous_extract(con, extract, tmp_path, monkeypatch):
    before = {p.name: p.read_bytes() for p in extract.path.iterdir()}

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(extracts, "write_parquet", boom)
    with pytest.raises(RuntimeError):
        extracts.write_department_extract(con, "scjg", AS_OF, tmp_path / "exports", force=True)
    assert {p.name: p.read_bytes() for p in extract.path.iterdir()} == before
    assert [p.name for p in extract.path.parent.iterdir()] == [AS_OF]


def test_code_corrections_from_feedback(con, tmp_path):
    def feedback(_con, dept):
        assert dept == "scjg"
        return pl.DataFrame({"source_file": ["scjg/20261103/admin_penalty.csv"], "source_row": [7],
                             "field": ["uscc"], "original_value": [f"={PERSON_ID}"],
                             "resolved_uscc": ["91130100MA0000500X"], "status": ["repaired"]})

    res = extracts.write_department_extract(con, "scjg", AS_OF, tmp_path / "x", feedback=feedback)
    df = pl.read_csv(res.path / "code_corrections.csv", infer_schema=False)
    assert df.columns == ["来源文件", "行号", "字段", "原始代码", "建议代码", "状态"]
    assert df["原始代码"].item() == f"'={PERSON_ID[:4]}**********{PERSON_ID[-4:]}"


def test_empty_code_corrections_have_headers(con, tmp_path):
    res = extracts.write_department_extract(con, "scjg", AS_OF, tmp_path / "x", feedback=lambda c, d: None)
    header = (res.path / "code_corrections.csv").read_bytes().decode("utf-8-sig").splitlines()[0]
    assert header.split(",") == ["原始代码", "建议代码", "问题类型", "处理方法", "置信度", "来源文件", "行号", "字段"]


def test_department_without_scope_gets_empty_lists(con, tmp_path):
    res = extracts.write_department_extract(con, "fy", AS_OF, tmp_path / "x")
    m = res.manifest
    assert {f["dataset"]: f["rows"] for f in m["files"]} == {"grades": 0, "inspection_draw": 0, "code_corrections": 0}
    assert m["draw_version"] is None and res.draw is None


def test_stale_marts_are_refused(con, tmp_path):
    with pytest.raises(ValueError, match="not 2026-12-31"):
        extracts.write_department_extract(con, "scjg", "2026-12-31", Path(tmp_path / "x"))


def test_anyone_can_redraw_from_the_extract_with_the_documented_sql(extract, monkeypatch):
    """docs/sampling.md steps 1–2, verbatim but for the three parameters, run in the
    extract folder on grades.csv + manifest.json, give the published list."""
    import re

    import duckdb
    from deliver_fixture import DOC

    text = DOC.read_text(encoding="utf-8")
    setup = re.search(r"```sql setup\n(.*?)```", text, re.S).group(1)
    step2 = re.search(r"```sql recipe\n(.*?)```", text, re.S).group(1)
    m = extract.manifest
    for var in ("seed", "period"):
        setup = re.sub(rf"SET VARIABLE {var} = '[^']*'", f"SET VARIABLE {var} = '{m[var]}'", setup)
    setup = re.sub(r"SET VARIABLE dept = '[^']*'", f"SET VARIABLE dept = '{m['department_code']}'", setup)
    monkeypatch.chdir(extract.path)
    con = duckdb.connect()
    con.execute(setup + step2)
    mine = con.execute("select grade, draw_rank, subject_id, draw_key from drawn order by grade, draw_rank").fetchall()
    published = pl.read_csv("inspection_draw.csv", infer_schema=False)
    assert mine == [(g, int(r), s, k) for g, r, s, k in published.select(
        "信用等级", "抽签序号", "主体标识", "抽签值").iter_rows()]
    assert len(mine) == next(f["rows"] for f in m["files"] if f["name"] == "inspection_draw.csv") > 0
