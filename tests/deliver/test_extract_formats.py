"""Extract file formats: the XLSX workbook (pipelines.deliver.xlsx, the vectorised writer
behind extracts.write_xlsx) read back by openpyxl and by calamine (polars.read_excel),
the XML it is made of, the sheet limit and byte-identical re-runs."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.deliver import extracts, xlsx

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
# What the writer drops: what XML 1.0 cannot hold.
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

# Text values as they reach the writer (after safe.safe_frame: formulas neutralised).
TRICKY = [
    "石家庄恒达商贸有限公司",                # CJK
    "A&B <公司> \"引号\" 'x'",                 # & < > and quotes
    "'=SUM(A1)",                                # a formula neutralised upstream
    "  前导空格",                               # leading spaces
    "尾随空格  ",                               # trailing spaces
    "\t制表符",                                 # leading tab
    "多行\n第二行\r\n第三行\r",                 # LF, CR LF, a trailing CR
    "控\x01制\x0b字\x1f符\x00",                  # control characters XML forbids
    "_x0041_",                                  # would read back as "A" unescaped
    "前_x0041_x0042_x0043_后",                  # sequences sharing underscores
    "_x005F_x0041_",                            # an escaped underscore, literally
    "_x00zz_ 和 _X0041_ 和 _x0041",             # not sequences
    "911301001234567890",                       # an all-digit 18-character code
    "0012",                                     # leading zeros
    "1E5",                                      # looks like a number
    "",                                         # empty: no cell
    None,                                       # null: no cell
    "\u3000全角空格\u3000",                      # ideographic spaces at both ends
    "emoji 😀 and \ufffe\uffff",                  # astral plane; noncharacters dropped
]


def excel_decoded(v: str | None) -> str | None:
    """A text as Excel (and calamine) read it: `_xHHHH_` is the character U+HHHH.
    openpyxl hands inline strings over undecoded."""
    return v if v is None else re.sub("_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m[1], 16)), v)


def expected_text(v: str | None) -> str | None:
    """What a text cell reads back as: forbidden characters dropped, empty is no cell."""
    if v is None:
        return None
    v = FORBIDDEN.sub("", v)
    return v or None


def tricky_frame() -> pl.DataFrame:
    n = len(TRICKY)
    floats = [0.1, 1e-7, 123456789.123, 1e20, -2.5, 0.0, -0.0, 1 / 3, float("nan"), float("inf"),
              float("-inf"), None, 5e-324, 1.7976931348623157e308, 99.99, 750.0, 1e15, 2.0 ** 53, 0.3]
    return pl.DataFrame({
        "统一社会信用代码": [f"91130100MA{i:07d}X" for i in range(n)],
        "主体名称": TRICKY,
        "综合评价得分": floats[:n],
        "行号": pl.Series([7, -1, 0, None, 2**53, 10**12, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16][:n],
                        dtype=pl.Int64),
        "纳入检查对象名录": [True, False, None] * (n // 3) + [True] * (n % 3),
        "评价日期": [dt.date(2026, 11, 30), None, dt.date(1999, 1, 1)] * (n // 3) + [dt.date(2000, 2, 29)] * (n % 3),
    })


def write(df: pl.DataFrame, path: Path, sheet: str = "信用等级", **kw) -> Path:
    extracts.write_xlsx(df, path, sheet) if not kw else xlsx.write_xlsx(
        df, path, sheet, max_rows=kw.pop("max_rows", extracts.XLSX_MAX_ROWS), created=extracts.FIXED_CREATED,
        author="信用办", **kw)
    return path


def sheet_xml(path: Path, n: int = 1) -> ET.Element:
    with zipfile.ZipFile(path) as z:
        return ET.fromstring(z.read(f"xl/worksheets/sheet{n}.xml"))


# -- openpyxl: cell types, number formats, header, freeze pane, widths, properties ------

def test_openpyxl_reads_types_formats_header_and_properties(tmp_path):
    df = tricky_frame()
    wb = openpyxl.load_workbook(write(df, tmp_path / "grades.xlsx"))
    assert wb.sheetnames == ["信用等级"]
    ws = wb["信用等级"]
    assert ws.freeze_panes == "A2"
    assert wb.properties.title == "信用等级" and wb.properties.creator == "信用办"
    assert wb.properties.created == extracts.FIXED_CREATED and wb.properties.modified == extracts.FIXED_CREATED

    header = next(ws.iter_rows(min_row=1, max_row=1))
    assert [c.value for c in header] == df.columns
    assert all(c.font.b and c.number_format == "@" and c.data_type == "s" for c in header)

    rows = list(ws.iter_rows(min_row=2, values_only=False))
    assert len(rows) == df.height == ws.max_row - 1
    for i, (code, name, score, line, flag, day) in enumerate(rows):
        src = df.row(i, named=True)
        # text: inline strings with the text format, never bold
        assert code.value == src["统一社会信用代码"] and code.data_type == "s" and code.number_format == "@"
        assert not code.font.b
        assert excel_decoded(name.value) == expected_text(src["主体名称"])
        if name.value is not None:
            assert name.data_type == "s" and name.number_format == "@"
        # numbers: numeric cells; NaN/inf and null empty
        f = src["综合评价得分"]
        if f is None or f != f or f in (float("inf"), float("-inf")):
            assert score.value is None
        else:
            assert score.data_type == "n" and score.value == f and score.number_format == "General"
        assert line.value == src["行号"] and (line.value is None or line.data_type == "n")
        assert flag.value == {True: "是", False: "否", None: None}[src["纳入检查对象名录"]]
        assert flag.value is None or flag.number_format == "@"
        assert day.value == (src["评价日期"].isoformat() if src["评价日期"] else None)
        assert day.value is None or day.data_type == "s"

    # widths max(10, min(40, 2 * len(header) + 4)) as Excel stores them; "@" on String columns
    widths = {k: (d.width, d.number_format) for k, d in ws.column_dimensions.items()}
    assert widths == {
        "A": (20.7109375, "@"),        # 统一社会信用代码: 8 characters -> 20
        "B": (12.7109375, "@"),        # 主体名称 -> 12
        "C": (16.7109375, "General"),  # 综合评价得分 -> 16, numbers: no column style
        "D": (10.7109375, "General"),  # 行号 -> 8, at least 10
        "E": (20.7109375, "General"),  # booleans: text cells, but no column style (as before)
        "F": (12.7109375, "General"),
    }


# -- calamine (polars.read_excel): values -------------------------------------------------

def test_calamine_reads_back_every_tricky_value(tmp_path):
    df = tricky_frame()
    back = pl.read_excel(write(df, tmp_path / "grades.xlsx"), engine="calamine",
                         schema_overrides={"统一社会信用代码": pl.String, "主体名称": pl.String,
                                           "综合评价得分": pl.Float64, "行号": pl.Int64,
                                           "纳入检查对象名录": pl.String, "评价日期": pl.String})
    assert back.columns == df.columns and back.height == df.height
    assert back["统一社会信用代码"].to_list() == df["统一社会信用代码"].to_list()
    assert back["主体名称"].to_list() == [expected_text(v) for v in TRICKY]
    # floats exactly (shortest round-trip text); NaN and ±inf are empty cells
    want = [None if f is None or f != f or abs(f) == float("inf") else f for f in df["综合评价得分"].to_list()]
    assert back["综合评价得分"].to_list() == want
    assert back["行号"].to_list() == df["行号"].to_list()
    assert back["纳入检查对象名录"].to_list() == [{True: "是", False: "否"}.get(v) for v in df["纳入检查对象名录"]]
    assert back["评价日期"].to_list() == [d.isoformat() if d else None for d in df["评价日期"]]


def test_codes_stay_text_without_overrides(tmp_path):
    """What a department sees opening the file: 18-digit codes and zero-led codes as text."""
    df = pl.DataFrame({"统一社会信用代码": ["911301001234567890", "001234"], "综合评价得分": [812.5, 640.0]})
    back = pl.read_excel(write(df, tmp_path / "g.xlsx"))
    assert back.schema == pl.Schema({"统一社会信用代码": pl.String, "综合评价得分": pl.Float64})
    assert back["统一社会信用代码"].to_list() == ["911301001234567890", "001234"]


# -- the XML ------------------------------------------------------------------------------

def test_worksheet_xml_cells(tmp_path):
    df = pl.DataFrame({"名称": ["  两端  ", "中间 空格", "a&b<c>", None, ""], "分": [1.5, None, 1e-7, 2.0, float("nan")]})
    root = sheet_xml(write(df, tmp_path / "g.xlsx"))
    rows = root.find(f"{MAIN}sheetData")
    cells = {c.get("r"): c for row in rows for c in row}
    assert [r.get("r") for r in rows] == ["1", "2", "3", "4", "5", "6"]
    assert set(cells) == {"A1", "B1", "A2", "B2", "A3", "A4", "B4", "B5"}  # null, "" and NaN: no cell
    assert cells["A1"].get("s") == "1" and cells["A2"].get("s") == "2"     # header bold "@", text "@"
    assert cells["A2"].get("t") == "inlineStr" and cells["B2"].get("t") is None
    t = {k: cells[k].find(f"{MAIN}is/{MAIN}t") for k in ("A2", "A3", "A4")}
    assert t["A2"].get(XML_SPACE) == "preserve" and t["A3"].get(XML_SPACE) is None
    assert t["A4"].text == "a&b<c>"
    assert cells["B4"].find(f"{MAIN}v").text == "1E-7" and cells["B2"].find(f"{MAIN}v").text == "1.5"
    assert root.find(f"{MAIN}dimension").get("ref") == "A1:B6"
    pane = root.find(f"{MAIN}sheetViews/{MAIN}sheetView/{MAIN}pane")
    assert pane.attrib == {"ySplit": "1", "topLeftCell": "A2", "activePane": "bottomLeft", "state": "frozen"}
    with zipfile.ZipFile(tmp_path / "g.xlsx") as z:
        raw = z.read("xl/worksheets/sheet1.xml")
    assert b"a&amp;b&lt;c&gt;" in raw


def test_headers_are_escaped_and_columns_past_z(tmp_path):
    headers = ["A&B <列>", " 空格 ", "检查人员1（姓名及执法证号）", "一二三四五六七八九十" * 2] + [f"列{i}" for i in range(26)]
    df = pl.DataFrame({h: [str(i)] for i, h in enumerate(headers)})
    path = write(df, tmp_path / "g.xlsx")
    back = pl.read_excel(path, engine="calamine")
    assert back.columns == headers and back.row(0) == tuple(str(i) for i in range(30))
    ws = openpyxl.load_workbook(path).active
    assert ws["AD1"].value == "列25" and ws["AD2"].value == "29"
    assert [ws.column_dimensions[k].width for k in "BCD"] == [12.7109375, 32.7109375, 40.7109375]  # 40 at most


def test_empty_lists_and_frames(tmp_path):
    df = pl.DataFrame(schema={"原始代码": pl.String, "行号": pl.Int64})
    path = write(df, tmp_path / "empty.xlsx")
    ws = openpyxl.load_workbook(path).active
    assert [c.value for c in ws[1]] == ["原始代码", "行号"] and ws.max_row == 1
    assert sheet_xml(path).find(f"{MAIN}dimension").get("ref") == "A1:B1"
    assert openpyxl.load_workbook(write(pl.DataFrame(), tmp_path / "none.xlsx")).active.max_row == 1


def test_other_column_types(tmp_path):
    df = pl.DataFrame({
        "时间": [dt.datetime(2026, 11, 30, 8, 5, 9), dt.datetime(2026, 1, 2, 3, 4, 5, 600)],
        "时刻": [dt.time(8, 5, 9), dt.time(23, 59, 59, 1)],
        "类别": pl.Series(["A", "B"], dtype=pl.Categorical),
        "小数": pl.Series(["1.50", "2.00"]).cast(pl.Decimal(10, 2)),
        "单精度": pl.Series([0.1, 2.5], dtype=pl.Float32),
        "无": [None, None],
    })
    back = pl.read_excel(write(df, tmp_path / "t.xlsx"), engine="calamine", read_options={"dtypes": "string"})
    assert back["时间"].to_list() == [v.isoformat() for v in df["时间"]]
    assert back["时刻"].to_list() == [v.isoformat() for v in df["时刻"]]
    assert back["类别"].to_list() == ["A", "B"] and back["小数"].to_list() == ["1.50", "2.00"]
    ws = openpyxl.load_workbook(tmp_path / "t.xlsx").active
    assert [ws["E2"].value, ws["E3"].value] == [0.1, 2.5] and ws["F2"].value is None
    with pytest.raises(TypeError, match="列表"):
        write(pl.DataFrame({"列表": [[1, 2]]}), tmp_path / "bad.xlsx")


def test_text_is_cut_to_what_a_cell_holds(tmp_path):
    """Excel's limit is 32,767 UTF-16 units a cell (a character beyond U+FFFF counts
    two): longer texts are cut to the longest prefix that fits, as xlsxwriter did."""
    texts = ["甲" * 40_000, "😀" * 20_000, "a😀" * 20_000, "b" * 32_766 + "😀", "\x01" * 9 + "c" * 32_767 + "  "]
    back = pl.read_excel(write(pl.DataFrame({"说明": texts}), tmp_path / "long.xlsx"))["说明"].to_list()
    assert back == ["甲" * 32_767, "😀" * 16_383, "a😀" * 10_922 + "a", "b" * 32_766, "c" * 32_767]


# -- sheets, re-runs, size ------------------------------------------------------------------

def test_xlsx_continues_on_further_sheets_past_the_row_limit(tmp_path, monkeypatch):
    """A list longer than one Excel sheet (1,048,575 rows) is not cut: it continues on
    sheets _2, _3 …, every row once (limit patched small here)."""
    monkeypatch.setattr(extracts, "XLSX_MAX_ROWS", 3)
    df = pl.DataFrame({"统一社会信用代码": [f"9113{i:014d}" for i in range(7)], "综合评价得分": list(range(7))})
    path = tmp_path / "grades.xlsx"
    extracts.write_xlsx(df, path, "信用等级")
    sheets = pl.read_excel(path, sheet_id=0, engine="calamine", read_options={"dtypes": "string"})
    assert list(sheets) == ["信用等级_1", "信用等级_2", "信用等级_3"]
    back = pl.concat(sheets.values())
    assert back["统一社会信用代码"].to_list() == df["统一社会信用代码"].to_list()
    wb = openpyxl.load_workbook(path)
    for ws, n in zip(wb.worksheets, (3, 3, 1), strict=True):
        assert ws.freeze_panes == "A2" and ws["A1"].font.b and ws.max_row == n + 1
        assert all(ws.cell(r, 2).data_type == "n" for r in range(2, n + 2))
    assert wb.properties.title == "信用等级"


def test_long_sheet_names_stay_within_31_characters(tmp_path):
    name = "检查人员名录" * 6  # 36 characters
    df = pl.DataFrame({"a": list(range(5))})
    assert openpyxl.load_workbook(write(df, tmp_path / "one.xlsx", name)).sheetnames == [name[:31]]
    names = openpyxl.load_workbook(write(df, tmp_path / "two.xlsx", name, max_rows=2)).sheetnames
    assert names == [f"{name[:27]}_{k}" for k in (1, 2, 3)] and all(len(n) <= 31 for n in names)
    with pytest.raises(ValueError, match="sheet name"):
        write(df, tmp_path / "bad.xlsx", "a/b")


def test_rerun_is_byte_identical_with_fixed_entries(tmp_path):
    df = pl.concat([tricky_frame()] * 50)
    a = write(df, tmp_path / "a.xlsx", chunk_rows=7)   # chunks that need escaping and chunks that do not
    b = write(df, tmp_path / "b.xlsx", chunk_rows=7)
    assert a.read_bytes() == b.read_bytes()
    assert write(df, tmp_path / "c.xlsx", chunk_rows=1000).read_bytes() == a.read_bytes(), "chunking does not show"
    with zipfile.ZipFile(a) as z:
        infos = z.infolist()
    assert [i.filename for i in infos] == [
        "[Content_Types].xml", "_rels/.rels", "docProps/app.xml", "docProps/core.xml", "xl/workbook.xml",
        "xl/_rels/workbook.xml.rels", "xl/styles.xml", "xl/worksheets/sheet1.xml"]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}


def test_a_sheet_over_the_zip_entry_limit_is_written_as_zip64(tmp_path, monkeypatch):
    """A worksheet over 2 GiB of XML (patched to 4 kB here) is written again as a ZIP64
    entry, and reads back whole."""
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 4000)
    df = pl.DataFrame({"代码": [f"9113{i:014d}" for i in range(200)]})
    path = write(df, tmp_path / "big.xlsx")
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("xl/worksheets/sheet1.xml")
    assert info.file_size > 4000 and info.extra  # the ZIP64 extra field
    monkeypatch.undo()
    assert pl.read_excel(path)["代码"].to_list() == df["代码"].to_list()
    assert openpyxl.load_workbook(path).active.max_row == 201


# -- property: any text round-trips -----------------------------------------------------------

PIECES = ["_x0041_", "_x", "_", "x0041", "0041_", "_x005F_", "&", "&amp;", "<", ">", "]]>", '"', "'", " ", "\t",
          "\n", "\r", "\r\n", "\x00", "\x01", "\x1f", "\x7f", "\x85", "\u2028", "\u3000", "\ufffe", "\uffff",
          "中文", "😀", "=", "0", "9"]
texts = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), max_size=8).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.none() | texts, st.none() | texts), min_size=1, max_size=12))
def test_any_text_round_trips(tmp_path, rows):
    df = pl.DataFrame(rows, schema={"甲": pl.String, "乙": pl.String}, orient="row")
    path = write(df, tmp_path / "p.xlsx", chunk_rows=3)
    want = {c: [expected_text(v) for v in df[c]] for c in df.columns}
    back = pl.read_excel(path, engine="calamine", schema_overrides={"甲": pl.String, "乙": pl.String},
                         drop_empty_rows=False, drop_empty_cols=False)
    if back.height < df.height:  # (in case the reader stops at the last row with a cell)
        back = pl.concat([back, pl.DataFrame({c: [None] * (df.height - back.height) for c in df.columns},
                                             schema=back.schema)])
    assert {c: back[c].to_list() for c in df.columns} == want
    ws = openpyxl.load_workbook(path).active
    assert {c: [excel_decoded(ws.cell(r, j).value) for r in range(2, df.height + 2)]
            for j, c in enumerate(df.columns, 1)} == want
    # leading or trailing XML white space is kept by xml:space="preserve", as Excel needs
    for t in sheet_xml(path).iter(f"{MAIN}t"):
        if t.text and (t.text[0] in " \t\n\r" or t.text[-1] in " \t\n\r"):
            assert t.get(XML_SPACE) == "preserve", t.text
