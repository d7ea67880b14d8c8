from __future__ import annotations

import datetime as dt
import io
import json

import polars as pl
import pytest
import xlsxwriter
from ingest_helpers import KEY, PENALTY, csv_bytes, deliver, penalty, query

from pipelines.ingest import ingest_inbox
from pipelines.ingest.readers import UnreadableFile, detect_encoding, read_bytes


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_csv_encodings(encoding):
    data = csv_bytes([penalty(1, 违法事实="销售过期食品（第二次）")], encoding=encoding)
    r = read_bytes(data, "csv")
    assert r.frame.columns[0] == "行政相对人名称"
    assert r.frame["违法事实"][0] == "销售过期食品（第二次）"
    assert r.frame.dtypes == [pl.String] * len(PENALTY)


def test_encoding_detection_prefers_utf8_and_finds_gb18030():
    text = "行政相对人名称,违法事实\n甲公司,在经营场所销售不符合食品安全标准的食品\n" * 20
    assert detect_encoding(text.encode("utf-8")) == "utf-8"
    assert detect_encoding(b"\xef\xbb\xbf" + text.encode("utf-8")) == "utf-8-sig"
    assert detect_encoding(text.encode("gb18030")) == "gb18030"
    # a multi-byte character cut by the sample boundary is not a reason to leave UTF-8
    assert detect_encoding(text.encode("utf-8"), sample_bytes=10) == "utf-8"


def test_csv_rfc4180_quoting_keeps_everything_as_text():
    data = '名称,金额,代码\n"甲,乙公司","1,000",0012\n"多行\n备注",2,"a""b"\n'.encode()
    f = read_bytes(data, "csv").frame
    assert f.rows() == [("甲,乙公司", "1,000", "0012"), ("多行\n备注", "2", 'a"b')]


def _xlsx(rows: list[list], *, blank_rows: int = 1, date_cells: dict | None = None) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("处罚")
    fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            if isinstance(v, dt.date):
                ws.write_datetime(r + blank_rows, c, dt.datetime.combine(v, dt.time()), fmt)
            elif v is not None:
                ws.write(r + blank_rows, c, v)
    wb.add_worksheet("其他").write(0, 0, "ignored")
    wb.close()
    return buf.getvalue()


def test_xlsx_numbers_dates_and_header_row():
    data = _xlsx(
        [
            ["名称", "统一社会信用代码", "处罚决定日期", "罚款金额（万元）", "序号"],
            ["甲", 916201055811843000, dt.date(2024, 3, 5), 12.5, 1],
            ["乙", "91350100M000100Y43", 45356, 3, 2],
        ],
        blank_rows=2,
    )
    r = read_bytes(data, "xlsx")
    assert r.frame.columns == ["名称", "统一社会信用代码", "处罚决定日期", "罚款金额（万元）", "序号"]
    # the number cell comes back as its float64 expansion; the normaliser shows it as Excel does
    assert r.frame["统一社会信用代码"].to_list() == ["916201055811842944", "91350100M000100Y43"]
    assert r.frame["罚款金额（万元）"].to_list() == ["12.5", "3"]
    assert r.frame["处罚决定日期"][0].startswith("2024-03-05")
    assert r.frame["处罚决定日期"][1] == "45356"
    assert r.numeric_cells["统一社会信用代码"].to_list() == [True, False]


def test_xlsx_ingest_flags_mangled_code_and_parses_excel_dates(paths, catalogue):
    headers = list(PENALTY)
    rows = [headers]
    for i, (code, date) in enumerate([(916201055811843000, dt.date(2024, 3, 5)), ("91110000600037341L", 45356)]):
        row = penalty(i + 1)
        values = [row[h] for h in headers]
        values[headers.index("统一社会信用代码")] = code
        values[headers.index("处罚决定日期")] = date
        rows.append(values)
    deliver(paths, "scjg/20240310/行政处罚_3月.xlsx", _xlsx(rows))
    rep = ingest_inbox(paths, catalogue, key=KEY)
    assert rep.files[0].status == "loaded", rep.files[0]
    raw = query(paths, "select uscc, decided_on, flags from raw.admin_penalty order by source_row")
    assert raw["decided_on"].to_list() == [dt.date(2024, 3, 5), dt.date(2024, 3, 5)]
    assert raw["uscc"][0] == "916201055811843000"
    assert any("Excel" in f and "统一社会信用代码" in f for f in raw["flags"][0])
    assert raw["flags"][1].to_list() == []
    loads = query(paths, "select file_format, flags from audit.loads")
    assert loads["file_format"][0] == "xlsx" and any("Excel" in f for f in loads["flags"][0])


def test_json_array_of_objects(paths, catalogue):
    rows = [penalty(1), dict(penalty(2), **{"罚款金额（万元）": 2.5, "附件": {"a": 1}})]
    deliver(paths, "scjg/20240310/admin_penalty.json", json.dumps(rows, ensure_ascii=False).encode())
    rep = ingest_inbox(paths, catalogue, key=KEY)
    assert rep.files[0].status == "loaded" and rep.files[0].rows_loaded == 2
    raw = query(paths, "select fine, extra from raw.admin_penalty order by source_row")
    assert raw["fine"].to_list() == [1.0, 2.5]
    assert json.loads(raw["extra"][1]) == {"附件": '{"a":1}'}


def test_json_number_columns_read_as_text_the_way_excel_shows_them():
    """A column of JSON numbers only (no string to make it text): integral values lose
    ``.0``, decimals stay, a 18-digit code sent as a number keeps 15 significant digits."""
    rows = [{"罚款金额（万元）": 2.5, "序号": 1.0, "代码": 9.16201055811843e17},
            {"罚款金额（万元）": 3.0, "序号": 2.0, "代码": None}]
    df = read_bytes(json.dumps(rows).encode(), "json").frame
    assert df["罚款金额（万元）"].to_list() == ["2.5", "3"]
    assert df["序号"].to_list() == ["1", "2"]
    assert df["代码"].to_list() == ["916201055811843000", None]


@pytest.mark.parametrize(
    ("ext", "data", "rule"),
    [
        ("csv", b"", "empty"),
        ("csv", "行政相对人名称,违法事实\n".encode(), "empty"),
        ("xlsx", b"PK\x03\x04 this is not a zip", "unreadable"),
        ("json", b"{not json", "unreadable"),
        ("json", b'{"a": 1}', "unreadable"),
        ("csv", '名称,事实\n"甲,乙\n'.encode(), "unreadable"),
    ],
)
def test_unreadable_and_empty(ext, data, rule):
    with pytest.raises(UnreadableFile) as e:
        read_bytes(data, ext)
    assert e.value.rule == rule and e.value.reason


def test_xlsx_digit_only_text_codes_are_not_mistaken_for_numbers():
    """A valid all-digit USCC typed as text (and exactly representable as a float64) is
    a number-cell candidate for the reader but must come through unchanged."""
    from pipelines.ingest.readers import number_cell_candidates

    data = _xlsx([["统一社会信用代码"], ["121200004013590816"], ["916201055811843123"]])
    r = read_bytes(data, "xlsx")
    assert r.frame["统一社会信用代码"].to_list() == ["121200004013590816", "916201055811843123"]
    cand = number_cell_candidates(r.frame["统一社会信用代码"]).to_list()
    assert cand == [True, False]  # 916201055811843123 is not a float64 value: text for sure
