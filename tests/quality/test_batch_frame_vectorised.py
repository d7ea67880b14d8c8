"""The vectorised ``batch_frame`` builds exactly the frame the row-by-row version did
(tests/quality/old_batch_frame.py, kept as the oracle): same columns and order, dtypes,
values, NaN / None / NaT, row order; and the vectorised masking and date parsing agree
with the scalar functions on arbitrary text (hypothesis)."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import sys

import duckdb
import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.ingest.load import ensure_tables
from pipelines.quality.gx_suites import batch_frame, parse_dates
from pipelines.quality.masking import (
    mask_ids,
    mask_ids_expr,
    mask_personal,
    mask_personal_expr,
    py_chars,
)
from tests.quality import old_batch_frame as old

# --------------------------------------------------------------------------- comparison


def assert_same_frame(new: pd.DataFrame, ref: pd.DataFrame) -> None:
    assert list(new.columns) == list(ref.columns)
    for c in ref.columns:
        assert repr(new[c].dtype) == repr(ref[c].dtype) and new[c].dtype == ref[c].dtype, c
    pd.testing.assert_frame_equal(new, ref, check_exact=True)
    for c in ref.columns:  # None vs NaN in object columns, which assert_frame_equal equates
        if ref[c].dtype == object:
            assert [type(v) for v in new[c]] == [type(v) for v in ref[c]], c


def _files(con) -> list[tuple[str, str]]:
    return con.execute(
        "select source_file, category from audit.loads union "
        "select distinct source_file, category from audit.rejected_rows order by 1"
    ).fetchall()


def test_fixture_warehouse_frames_identical(warehouse, catalogue):
    con = duckdb.connect(str(warehouse), read_only=True)
    files = _files(con)
    assert len(files) == 5
    for source_file, cid in files:
        cat = catalogue.categories[cid]
        assert_same_frame(batch_frame(con, cat, source_file, None), old.batch_frame(con, cat, source_file, None))


# --------------------------------------------------------------------------- a richer warehouse

ID18 = ["360402199001010071", "36040219900101007X", "36040219900101007x", "３６０４０２１９９００１０１００７Ｘ"]
ID15 = ["360402900101007", "３６０４０２９００１０１００７"]
TEXTS = [None, "", "张三", "x", "  ", "测试企业有限公司", "a360402199001010071", "证件 360402199001010071，另 360402900101007",
         "91350100M000100Y43", "１２３４５６７８９０１２３４５６", "_360402900101007_", "王 五 ", "0" * 17 + "X", "Ｘ"]
DATES = ["2025-10-09", "2025/10/9", "2025.1.2", "2025年10月9日", " 2025 年 1 月 2 日 ", "20251009", "２０２５-１０-０９",
         "2025-02-29", "2024-02-29", "2025-13-01", "0000-01-01", "2025-1-32", "25-10-09", "2025-10-09 10:00", "x", "", "  "]
MONEY = ["2.5", "10", " 3 ", "1e3", "abc", "", "-0", "1,000", "inf", "0.1"]
LISTS = ["警告", "警告;罚款", "警告、罚款", " 警告 ，, 罚款 ；", "、", "罚款", "没收违法所得"]
CATEGORIES = ["admin_penalty", "objection", "inspector", "registration", "admin_license"]


def _loaded_value(rng: random.Random, f):
    if rng.random() < 0.25:
        return None
    if f.type == "date":
        return dt.date(2020, 1, 1) + dt.timedelta(days=rng.randrange(2500))
    if f.type in ("money", "int"):
        return rng.choice([0.0, 2.5, 100.0, 1e9, float(rng.randrange(10**6))])
    if f.type == "enum" and f.enum:
        return rng.choice(f.enum)
    if f.type == "enum_list" and f.enum:
        return ";".join(rng.sample(f.enum, rng.randint(1, min(3, len(f.enum)))))
    if f.personal or f.code_kind == "id_no":
        return rng.choice(ID18 + ID15 + TEXTS)
    return rng.choice(TEXTS)


def _rejected_value(rng: random.Random, f):
    r = rng.random()
    if r < 0.1:
        return None
    if f.type == "date":
        return rng.choice(DATES)
    if f.type in ("money", "int"):
        return rng.choice(MONEY)
    if f.type == "enum":
        return rng.choice([*(f.enum or []), *f.enum_aliases, " 1 ", "XX", ""])
    if f.type == "enum_list":
        return rng.choice(LISTS)
    if f.personal or f.code_kind == "id_no":
        return rng.choice(ID18 + ID15 + TEXTS[1:])
    return rng.choice(TEXTS[1:])


def _header(rng: random.Random, f) -> str:
    h = rng.choice(f.headers())
    if rng.random() < 0.2:  # what normalize_header forgives
        h = " " + h.lower() + "\u3000"
    return h


def _rejected_json(rng: random.Random, cat, shuffle: bool) -> str:
    items: list[tuple[str, object]] = []
    for f in cat.fields:
        if rng.random() < 0.1:
            continue  # column missing from this file
        items.append((_header(rng, f), _rejected_value(rng, f)))
        if rng.random() < 0.1 and len(f.headers()) > 1:  # the same field twice: first wins
            items.append((rng.choice(f.headers()), _rejected_value(rng, f)))
    items.append(("备注说明（未知列）", "x"))
    if shuffle:
        rng.shuffle(items)
    return json.dumps(dict(items), ensure_ascii=False)


def build_rich_warehouse(path, catalogue, seed: int = 7):
    """``ensure_tables`` (the real raw / audit layout) and, per category, files with
    loaded rows only, rejected rows only (JSON keys in shuffled orders, header aliases,
    duplicate headers), both, loaded rows without dates beside rejected rows with dates
    (the date dtype rule), a file with no rows, rejected rows none of whose headers is
    a field, and an empty JSON object."""
    rng = random.Random(seed)
    con = duckdb.connect(str(path))
    ensure_tables(con, catalogue)
    for cid in CATEGORIES:
        cat = catalogue.categories[cid]
        files = {  # name: (loaded rows, rejected rows, shuffle keys, loaded dates null)
            "mixed": (40, 15, False, False), "loaded_only": (30, 0, False, False),
            "rejected_only": (0, 25, True, False), "rejected_fixed_order": (0, 8, False, False),
            "no_loaded_dates": (10, 10, False, True), "empty": (0, 0, False, False),
            "rejected_unmapped": (0, 3, False, False),
        }
        for name, (n_loaded, n_rej, shuffle, no_dates) in files.items():
            source_file = f"dept/20251009/{cid}_{name}.csv"
            rows = list(range(1, n_loaded + n_rej + 1))
            rng.shuffle(rows)
            loaded_rows, rej_rows = sorted(rows[:n_loaded]), sorted(rows[n_loaded:])
            if n_loaded:
                data = {"source_file": [source_file] * n_loaded, "source_row": loaded_rows}
                for f in cat.fields:
                    vals = [_loaded_value(rng, f) for _ in loaded_rows]
                    if no_dates and f.type == "date":
                        vals = [None] * n_loaded
                    dtype = {"date": pl.Date, "money": pl.Float64, "int": pl.Float64}.get(f.type, pl.String)
                    data[f.name] = pl.Series(vals, dtype=dtype)
                frame = pl.DataFrame(data)  # noqa: F841 - read by DuckDB below
                con.execute(f'insert into raw."{cid}" by name select * from frame')
            if n_rej:
                raws = [_rejected_json(rng, cat, shuffle) for _ in rej_rows]
                if name == "mixed":
                    raws[0] = "{}"
                if name == "rejected_unmapped":  # no header maps to a field
                    raws = ["{}", '{"未知列": "x"}', '{"未知列": null}']
                rej = pl.DataFrame({"source_file": [source_file] * n_rej, "source_row": rej_rows,  # noqa: F841
                                    "category": [cid] * n_rej, "raw": raws})
                con.execute("insert into audit.rejected_rows by name "
                            "select source_file, source_row, category, raw::json as raw from rej")
            con.execute("insert into audit.loads (source_file, category, status) values (?, ?, 'loaded')",
                        [source_file, cid])
    con.close()
    return path


@pytest.fixture(scope="module")
def rich_warehouse(tmp_path_factory, catalogue):
    return build_rich_warehouse(tmp_path_factory.mktemp("rich") / "credit.duckdb", catalogue)


def test_rich_warehouse_frames_identical(rich_warehouse, catalogue):
    con = duckdb.connect(str(rich_warehouse), read_only=True)
    files = _files(con)
    assert len(files) == 7 * len(CATEGORIES)
    seen_dtypes = set()
    for source_file, cid in files:
        cat = catalogue.categories[cid]
        new = batch_frame(con, cat, source_file, None)
        assert_same_frame(new, old.batch_frame(con, cat, source_file, None))
        seen_dtypes |= {repr(t) for t in new.dtypes}
    # every kind of column the oracle produces was exercised
    assert {"dtype('<M8[us]')", "dtype('<M8[s]')", "dtype('O')", "dtype('float64')", "dtype('int64')",
            "<StringDtype(na_value=nan)>"} <= seen_dtypes


def test_rich_warehouse_covers_the_cases(rich_warehouse, catalogue):
    """The data above really has masked IDs, parsed rejected dates, aliases, conditions,
    and a rejected-only file whose columns follow the JSON."""
    con = duckdb.connect(str(rich_warehouse), read_only=True)
    cat = catalogue.categories["admin_penalty"]
    mixed = batch_frame(con, cat, "dept/20251009/admin_penalty_mixed.csv", None)
    rej = mixed[mixed["_outcome"] == "rejected"]
    assert rej["decided_on"].notna().any() and rej["decided_on"].isna().any()
    assert mixed["id_no"].dropna().str.contains(r"\*{10}").any()
    assert not mixed["id_no"].dropna().str.contains(ID18[0]).any()
    assert set(rej["subject_kind"].dropna()) & {"自然人", "法人及非法人组织"}
    assert set(mixed["_when_fine"]) == {"Y", "N"}
    only = batch_frame(con, cat, "dept/20251009/admin_penalty_rejected_only.csv", None)
    assert list(only.columns[2:34]) != [f.name for f in cat.fields]


# --------------------------------------------------------------------------- hypothesis

_ND = "٠١٢٣٤٥٦٧٨٩०१२३४५६७८९"  # Arabic-Indic, Devanagari: \d to Python, not 0-9
_SPECIAL = list("0123456789０１２３４５６７８９XxＸｘAaZz_ *-；，\n\t\u3000\x00\x01\x02张三" + _ND)


def _digits(alphabet: str, lo: int, hi: int):
    return st.text(alphabet=st.sampled_from(list(alphabet)), min_size=lo, max_size=hi)


_chunk = st.one_of(
    st.text(max_size=4),  # anything
    st.text(alphabet=st.sampled_from(_SPECIAL), max_size=4),
    _digits("0123456789", 13, 20),
    _digits("0123456789０１２３４５６７８９", 13, 20),
    _digits("0123456789" + _ND, 13, 20),
    st.tuples(_digits("0123456789０１２３４５６７８９", 17, 17), st.sampled_from(list("0Xx９Ｘｘ"))).map("".join),
    st.sampled_from(ID18 + ID15),
)
_text = st.lists(_chunk, max_size=8).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_text, st.text(), st.none()), min_size=1, max_size=25))
def test_mask_exprs_equal_scalar(values):
    df = pl.DataFrame({"v": pl.Series(values, dtype=pl.String)})
    got = df.select(ids=mask_ids_expr(pl.col("v")), personal=mask_personal_expr(pl.col("v")))
    assert got["ids"].to_list() == [None if v is None else mask_ids(v) for v in values]
    assert got["personal"].to_list() == [None if v is None else mask_personal(v) for v in values]


def test_mask_exprs_known_cases():
    fw = "１" * 46  # overlapping 15-digit candidates: masked left to right like re.sub
    cases = [ID18[0] + " " + ID18[1] + " " + ID18[0], ID18[0] + "_" + ID15[0] + "_" + ID15[0], fw, "a" + ID18[0],
             ID18[0] + "b", ID18[3] + ID18[0], "x" + ID15[1] + "Ｘ", ""]
    got = pl.DataFrame({"v": cases}).select(mask_ids_expr(pl.col("v")))["v"].to_list()
    assert got == [mask_ids(c) for c in cases]
    assert got[0] == "3604**********0071 3604**********007X 3604**********0071"


_SEP = st.sampled_from(["-", "/", ".", "年", "月", "日", "", " ", "\u3000", "\t", ":", "--"])
_D = "0123456789０１２３４５６７８９" + _ND
_date_text = st.one_of(
    st.tuples(st.sampled_from(["", " ", "\n"]), _digits(_D, 3, 5), _SEP, _digits(_D, 1, 3), _SEP, _digits(_D, 1, 3),
              _SEP, st.sampled_from(["", " ", "\x1c"])).map("".join),
    _digits(_D, 7, 9),
    st.tuples(_digits("0123456789", 4, 4), st.sampled_from(["-", "年"]), st.integers(0, 13).map(str),
              st.sampled_from(["-", "月"]), st.integers(0, 32).map(str), st.sampled_from(["", "日"])).map("".join),
    st.text(max_size=12),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_date_text, st.none()), min_size=1, max_size=25))
def test_parse_dates_equals_parse_date(values):
    got = parse_dates(pl.Series("v", values, dtype=pl.String))
    got_ts = [pd.NaT if v is None else pd.Timestamp(v) for v in got.to_list()]
    want = [old._parse_date(v) for v in values]
    assert [str(x) for x in got_ts] == [str(x) for x in want], values


def test_python_classes_are_what_re_matches():
    d, s = re.compile(r"\d"), re.compile(r"\s")
    all_chars = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    assert py_chars("digit") == "".join(c for c in all_chars if d.fullmatch(c))
    assert py_chars("space") == "".join(c for c in all_chars if s.fullmatch(c))
    assert "".join(c for c in all_chars if c.strip() == "") == py_chars("space")
