"""A vectorised XLSX writer for the department extracts (``extracts.write_xlsx``).

The worksheet XML is built by polars string expressions, a chunk of rows at a time
(one string per row: ``<row r="7"><c r="A7" …>…</c>…</row>``), and streamed into the
zip (deflate) straight from the Arrow buffer of that column: no Python loop over rows
or cells, and memory bounded by one chunk whatever the length of the list.

What the workbook holds (as the xlsxwriter version before it, except where noted):

- row 1 the headers, bold, frozen (freeze pane below it);
- text as inline strings (``t="inlineStr"``) with the text number format "@", so an
  18-digit code stays text; booleans as the text 是/否; dates, datetimes and times as
  ISO text; other text-like types (categorical, decimal) as their text;
- integers and floats as numbers (floats in their shortest round-trip form); nulls,
  empty strings and (new: xlsxwriter refused them) NaN and ±inf as empty cells, no
  cell written (xlsxwriter wrote a blank cell for an empty string);
- column widths ``max(10, min(40, 2 * len(header) + 4))`` (Excel character units, as
  xlsxwriter converts them); String columns carry the style "@" for cells typed later;
- a list longer than ``max_rows`` continues on sheets ``<name[:27]>_2``, ``_3`` …;
- document properties title, author, created and modified fixed by the caller, zip
  entries with a fixed timestamp and order: the same frame gives the same bytes.

Text is made valid XML: characters XML 1.0 forbids (C0 controls other than tab, LF
and CR; U+FFFE, U+FFFF) are dropped (xlsxwriter wrote them as ``_x0001_`` …);
``& < >`` are escaped, CR as ``&#13;`` (a raw CR would be read back as LF); a literal
``_xHHHH_`` is written ``_x005F_xHHHH_``, the way Excel escapes it, so that readers
do not decode it as a character; a text with leading or trailing white space gets
``xml:space="preserve"``; text longer than Excel's cell limit (32,767 UTF-16 units)
is cut to it, as xlsxwriter did.

Never written: formulas (a text starting with "=" is text) and shared strings, as
before; a theme part (new: the fonts name Calibri themselves). Nested, binary and
duration columns raise TypeError (xlsxwriter wrote Python's repr); extracts have none.
"""

from __future__ import annotations

import datetime as dt
import struct
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import polars as pl
import pyarrow as pa

T = TypeVar("T")

# Rows of worksheet XML built at once. Memory grows with it (a 17-column grade list:
# about 1.1 kB of XML a row, some 7 kB of working memory a row, two chunks in flight);
# time does not, from some 25,000 rows up (measured 10k-200k on 1M rows).
CHUNK_ROWS = 25_000
# Deflate level. Measured on a 1M-row grade list (1.1 GB of XML): level 1 161.7 MB,
# level 3 149.8 MB (+25 % time), level 6 133.8 MB (twice the time; the size
# xlsxwriter wrote). Compression is most of the time, so speed wins.
COMPRESSLEVEL = 1
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # every entry's timestamp: no clock in the file
EXCEL_MAX_CHARS = 32_767               # the characters (UTF-16 units) one cell holds

# Styles (cellXfs in styles.xml): 0 the default, 1 the bold header, 2 text ("@").
_HEADER_STYLE, _TEXT_STYLE = 1, 2

_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

# Characters XML 1.0 does not allow (surrogates cannot occur in polars' UTF-8 strings).
_FORBIDDEN = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x{FFFE}\x{FFFF}]"
# A literal `_xHHHH_`, which a reader would decode as the character U+HHHH: its first
# `_` is written `_x005F_` (an escaped `_`), the way Excel does. While escaping, that
# `_` is first replaced by a mark, a control character, so not in the (cleaned) text.
_X_ESCAPE = r"_(x[0-9A-Fa-f]{4}_)"
_MARK = "\x01"
_X_ESCAPE_AGAIN = r"_(x[0-9A-Fa-f]{4}[_\x01])"   # the closing `_` may be marked already


# -- cell values as text ---------------------------------------------------------------

_NUMBER, _TEXT, _GENERATED = "number", "text", "generated"


def _kind(dtype: pl.DataType) -> str:
    """How a column is written: numbers; text from the data (to be checked for what
    XML cannot hold); text this module generates (是/否, ISO dates: nothing to escape)."""
    if dtype.is_integer() or dtype.is_float():
        return _NUMBER
    if dtype in (pl.Boolean, pl.Date, pl.Time, pl.Null) or isinstance(dtype, pl.Datetime):
        return _GENERATED
    return _TEXT


def _iso(col: pl.Expr, fmt: str, with_tz: bool = False) -> pl.Expr:
    """Python's ``isoformat()``: microseconds only when there are some."""
    tz = "%:z" if with_tz else ""
    return (pl.when(col.dt.microsecond() == 0).then(col.dt.to_string(f"{fmt}{tz}"))
            .otherwise(col.dt.to_string(f"{fmt}%.6f{tz}")))


def _value(col: pl.Expr, dtype: pl.DataType, name: str) -> pl.Expr:
    """The text of a column's cells (null: no cell).

    Numbers: an integer's digits; a float's shortest round-trip text with the exponent
    as Excel writes it (``1E-7``), null for NaN and ±inf (Excel has no such numbers)."""
    if dtype.is_integer():
        return col.cast(pl.String)
    if dtype.is_float():
        return pl.when(col.is_finite()).then(col.cast(pl.String).str.replace("e", "E", literal=True))
    if dtype == pl.String:
        return col
    if dtype == pl.Boolean:
        return pl.when(col).then(pl.lit("是")).when(col.not_()).then(pl.lit("否"))
    if dtype == pl.Date:
        return col.dt.to_string("%Y-%m-%d")
    if isinstance(dtype, pl.Datetime):
        return _iso(col, "%Y-%m-%dT%H:%M:%S", with_tz=dtype.time_zone is not None)
    if dtype == pl.Time:
        return _iso(col, "%H:%M:%S")
    if dtype == pl.Null or isinstance(dtype, pl.Categorical | pl.Enum | pl.Decimal):
        return col.cast(pl.String)
    raise TypeError(f"column {name!r}: type {dtype} cannot be written to an XLSX extract")


# -- worksheet XML -----------------------------------------------------------------------

def column_letter(j: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA …"""
    s = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        s = chr(65 + r) + s
    return s


@dataclass(frozen=True)
class _Needs:
    """What the texts of a column in a chunk need beyond being copied into the XML."""
    escape: bool = False  # forbidden characters to drop, & < > CR or a `_xHHHH_` to escape
    space: bool = False   # leading or trailing white space: xml:space="preserve"
    long: bool = False    # longer than a cell holds
    empty: bool = False   # empty texts (written as no cell)


_NEEDS_ESCAPE = _FORBIDDEN[:-1] + r"&<>\r]|" + _X_ESCAPE   # forbidden or special characters
_EDGE_SPACE = r"^\s|\s$"                                    # leading or trailing white space


def _needs(values: pl.DataFrame, columns: list[int]) -> dict[int, _Needs]:
    """What each of ``columns`` (of values: c0, c1 …) needs, checked over the chunk with
    a few whole-column expressions, so that the passes of :func:`_text_cell` run only
    where some text needs them: most columns (codes, names, grades) need none."""
    if not columns:
        return {}
    checks = []
    for j in columns:
        v = pl.col(f"c{j}")
        checks += [
            # Searched in the column's texts joined into one: a regex runs far faster
            # over one long text than over many short ones. (A `_xHHHH_` made across
            # two texts is a false alarm: the escaping passes then run for nothing.)
            v.str.join("").str.contains(_NEEDS_ESCAPE).fill_null(False),
            (v.str.strip_chars().str.len_bytes() != v.str.len_bytes()).any(),  # (Unicode white space, as \s)
            (v.str.len_bytes() > EXCEL_MAX_CHARS).any(),                       # UTF-8 bytes >= UTF-16 units
            (v.str.len_bytes() == 0).any(),
        ]
    flags = values.select(e.alias(str(i)) for i, e in enumerate(checks)).row(0)
    return {j: _Needs(*flags[4 * i:4 * i + 4]) for i, j in enumerate(columns)}


def _clean(values: pl.DataFrame, j: int, needs: _Needs) -> pl.DataFrame:
    """Column j (of values: c0, c1 …) with what XML cannot hold dropped and cut to what
    a cell holds (only where ``needs`` says so)."""
    v = pl.col(f"c{j}")
    if needs.escape:
        values = values.with_columns(v.str.replace_all(_FORBIDDEN, ""))
    if needs.long:
        # Excel counts UTF-16 units (a character beyond U+FFFF counts two). Cut to the
        # limit in characters, then while some text is `over` units too long, cut it
        # by half that many characters: never past the longest prefix that fits (two
        # units a character at most), and the excess halves every round.
        values = values.with_columns(v.str.slice(0, EXCEL_MAX_CHARS))
        chars = v.str.len_chars().cast(pl.Int64)
        over = (chars + v.str.count_matches(r"[\x{10000}-\x{10FFFF}]") - EXCEL_MAX_CHARS).clip(0)
        while values.select(over.max()).item():
            values = values.with_columns(v.str.slice(0, chars - (over + 1) // 2))
    return values


def _text_cell(ref: str, v: pl.Expr, style: int, needs: _Needs) -> pl.Expr:
    """A text cell (of cleaned text), or null (no cell) when the text is null or empty."""
    if needs.empty or needs.escape:  # (a text of forbidden characters only is empty now)
        v = pl.when(v.str.len_bytes() > 0).then(v)
    open_t = f'" s="{style}" t="inlineStr"><is><t'
    if needs.space or needs.escape or needs.long:  # (dropping or cutting may bare a space)
        open_t = (pl.when(v.str.contains(_EDGE_SPACE)).then(pl.lit(open_t + ' xml:space="preserve">'))
                  .otherwise(pl.lit(open_t + ">")))
    else:
        open_t = pl.lit(open_t + ">")
    if needs.escape:
        # `_xHHHH_` -> `_x005F_xHHHH_`, every sequence, also where they share an
        # underscore (`_x0041_x0042_x0043_`). A regex pass finds non-overlapping
        # matches only: it escapes the 1st and 3rd there and skips the 2nd, whose
        # opening `_` closed the 1st; the second pass takes the skipped ones (their
        # closing `_` may be marked by now: the 3rd's opening one).
        v = v.str.replace_all(_X_ESCAPE, _MARK + "$1").str.replace_all(_X_ESCAPE_AGAIN, _MARK + "$1")
        v = v.str.replace_many(["&", "<", ">", "\r", _MARK], ["&amp;", "&lt;", "&gt;", "&#13;", "_x005F_"])
    return pl.concat_str([pl.lit(ref), pl.col("r"), open_t, v, pl.lit("</t></is></c>")])


def _number_cell(ref: str, v: pl.Expr) -> pl.Expr:
    return pl.concat_str([pl.lit(ref), pl.col("r"), pl.lit('"><v>'), v, pl.lit("</v></c>")])


def _rows(values: pl.DataFrame, kinds: list[str], style: int, first_row: int) -> pa.Array:
    """The worksheet rows first_row, first_row + 1 … of ``values`` (the cells' text in
    columns c0, c1 …), one XML string per row, as an Arrow array; text cells in ``style``."""
    needs = _needs(values, [j for j, k in enumerate(kinds) if k == _TEXT])
    for j, n in needs.items():
        if n.escape or n.long:
            values = _clean(values, j, n)
    cells = []
    for j, kind in enumerate(kinds):
        ref, v = f'<c r="{column_letter(j)}', pl.col(f"c{j}")
        cells.append(_number_cell(ref, v) if kind == _NUMBER else _text_cell(ref, v, style, needs.get(j, _Needs())))
    # A null cell (no value) drops out of its row.
    row = pl.concat_str([pl.lit('<row r="'), pl.col("r"), pl.lit('">'), *cells, pl.lit("</row>")], ignore_nulls=True)
    r = pl.int_range(first_row, first_row + pl.len()).cast(pl.String).alias("r")
    xml = values.with_columns(r).select(row).to_series()
    return xml.to_arrow(compat_level=pl.CompatLevel.oldest())   # large_string: one data buffer


def _bytes(rows: pa.Array) -> Iterator[memoryview]:
    """The UTF-8 bytes of all strings of ``rows`` back to back, as views of the Arrow
    data buffers (no copy): the worksheet XML of those rows."""
    for chunk in getattr(rows, "chunks", [rows]):
        if not len(chunk):
            continue
        _, offsets, data = chunk.buffers()
        start, = struct.unpack_from("<q", offsets, 8 * chunk.offset)
        end, = struct.unpack_from("<q", offsets, 8 * (chunk.offset + len(chunk)))
        yield memoryview(data)[start:end]


def _prefetched(items: Iterator[T]) -> Iterator[T]:
    """The items of ``items``, the next one computed in a worker thread while the caller
    uses the current one: polars and zlib release the GIL, so building the XML of a
    chunk and compressing the previous one use both cores."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(next, items, None)
        while (item := pending.result()) is not None:
            pending = pool.submit(next, items, None)
            yield item


def _col_width(header: str) -> float:
    """Width ``max(10, min(40, 2 * len(header) + 4))`` in characters, stored as
    xlsxwriter stores it (whole pixels of a 7-pixel digit, 5 pixels padding)."""
    chars = max(10, min(40, 2 * len(header) + 4))
    pixels = int(chars * 7 + 0.5) + 5
    return int(pixels / 7 * 256) / 256


def _sheet_head(headers: list[str], text_columns: list[bool], n_rows: int, selected: bool) -> str:
    last = f"{column_letter(len(headers) - 1)}{n_rows + 1}" if headers else ""
    dimension = f"A1:{last}" if headers and last != "A1" else "A1"
    cols = "".join(f'<col min="{j + 1}" max="{j + 1}" width="{_col_width(h)}"'
                   + (f' style="{_TEXT_STYLE}"' if text else "") + ' customWidth="1"/>'
                   for j, (h, text) in enumerate(zip(headers, text_columns, strict=True)))
    return (f'{_XML_DECL}<worksheet xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'
            f'<dimension ref="{dimension}"/><sheetViews><sheetView'
            + (' tabSelected="1"' if selected else "")
            + ' workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft"/></sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
            + (f"<cols>{cols}</cols>" if cols else "") + "<sheetData>")


_SHEET_TAIL = ('</sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" '
               'header="0.3" footer="0.3"/></worksheet>')


# -- the other parts of the package ------------------------------------------------------

def _attr(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _content_types(n_sheets: int) -> str:
    ct = "application/vnd.openxmlformats-officedocument"
    sheets = "".join(f'<Override PartName="/xl/worksheets/sheet{k}.xml" ContentType="{ct}.spreadsheetml.worksheet+xml"/>'
                     for k in range(1, n_sheets + 1))
    return (f'{_XML_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/docProps/app.xml" ContentType="{ct}.extended-properties+xml"/>'
            '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{ct}.spreadsheetml.styles+xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{ct}.spreadsheetml.sheet.main+xml"/>'
            f"{sheets}</Types>")


_ROOT_RELS = (
    f'{_XML_DECL}<Relationships xmlns="{_NS_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_NS_REL}/officeDocument" Target="xl/workbook.xml"/>'
    f'<Relationship Id="rId2" Type="{_NS_PKG_REL}/metadata/core-properties" Target="docProps/core.xml"/>'
    f'<Relationship Id="rId3" Type="{_NS_REL}/extended-properties" Target="docProps/app.xml"/>'
    "</Relationships>")


def _app(names: list[str]) -> str:
    parts = "".join(f"<vt:lpstr>{_attr(n)}</vt:lpstr>" for n in names)
    return (f'{_XML_DECL}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" '
            'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
            "<Application>Microsoft Excel</Application><DocSecurity>0</DocSecurity><ScaleCrop>false</ScaleCrop>"
            '<HeadingPairs><vt:vector size="2" baseType="variant"><vt:variant><vt:lpstr>Worksheets</vt:lpstr>'
            f"</vt:variant><vt:variant><vt:i4>{len(names)}</vt:i4></vt:variant></vt:vector></HeadingPairs>"
            f'<TitlesOfParts><vt:vector size="{len(names)}" baseType="lpstr">{parts}</vt:vector></TitlesOfParts>'
            "<Company></Company><LinksUpToDate>false</LinksUpToDate><SharedDoc>false</SharedDoc>"
            "<HyperlinksChanged>false</HyperlinksChanged><AppVersion>12.0000</AppVersion></Properties>")


def _core(title: str, author: str, created: dt.datetime) -> str:
    when = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (f'{_XML_DECL}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<dc:title>{_attr(title)}</dc:title><dc:creator>{_attr(author)}</dc:creator>"
            f"<cp:lastModifiedBy>{_attr(author)}</cp:lastModifiedBy>"
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{when}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{when}</dcterms:modified></cp:coreProperties>')


def _workbook(names: list[str]) -> str:
    sheets = "".join(f'<sheet name="{_attr(n)}" sheetId="{k}" r:id="rId{k}"/>' for k, n in enumerate(names, 1))
    return (f'{_XML_DECL}<workbook xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'
            '<fileVersion appName="xl" lastEdited="4" lowestEdited="4" rupBuild="4505"/>'
            '<workbookPr defaultThemeVersion="124226"/><bookViews><workbookView xWindow="240" yWindow="15" '
            f'windowWidth="16095" windowHeight="9660"/></bookViews><sheets>{sheets}</sheets>'
            '<calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>')


def _workbook_rels(n_sheets: int) -> str:
    rels = "".join(f'<Relationship Id="rId{k}" Type="{_NS_REL}/worksheet" Target="worksheets/sheet{k}.xml"/>'
                   for k in range(1, n_sheets + 1))
    return (f'{_XML_DECL}<Relationships xmlns="{_NS_PKG_REL}">{rels}'
            f'<Relationship Id="rId{n_sheets + 1}" Type="{_NS_REL}/styles" Target="styles.xml"/></Relationships>')


# Calibri 11 (regular and bold); number format 164 is "@" (text).
_STYLES = (
    f'{_XML_DECL}<styleSheet xmlns="{_NS_MAIN}"><numFmts count="1"><numFmt numFmtId="164" formatCode="@"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="1" fillId="0" borderId="0" xfId="0" applyNumberFormat="1" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '<dxfs count="0"/><tableStyles count="0" defaultTableStyle="TableStyleMedium9" defaultPivotStyle="PivotStyleLight16"/>'
    "</styleSheet>")


# -- the workbook ------------------------------------------------------------------------

def _sheet_names(sheet: str, parts: int) -> list[str]:
    bad = set(sheet) & set("[]:*?/\\")
    if not sheet or bad or sheet.startswith("'") or sheet.endswith("'"):
        raise ValueError(f"invalid Excel sheet name {sheet!r}")
    return [sheet[:31]] if parts == 1 else [f"{sheet[:27]}_{k}" for k in range(1, parts + 1)]


def _entry(name: str, level: int) -> zipfile.ZipInfo:
    """A zip entry with nothing of the machine or the clock in it."""
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info._compresslevel = level  # zipfile's own field (public `compress_level` from 3.13)
    info.create_system = 3        # as on Unix, wherever it runs
    info.external_attr = 0o600 << 16
    return info


class _TooLarge(Exception):
    """A worksheet's XML turned out larger than a plain zip entry holds (2 GiB)."""


def write_xlsx(df: pl.DataFrame, path: Path | str, sheet: str, *, max_rows: int, created: dt.datetime,
               author: str, chunk_rows: int = CHUNK_ROWS, compresslevel: int = COMPRESSLEVEL) -> None:
    """Write ``df`` to ``path``: sheet ``sheet`` (continued on ``<sheet[:27]>_2`` … past
    ``max_rows`` rows), document title ``sheet``, author ``author``, created
    ``created``. Same frame, same bytes."""
    try:
        _write(df, path, sheet, max_rows, created, author, chunk_rows, compresslevel, zip64=False)
    except _TooLarge:
        # Rare (some 1M rows of long texts): write it again with the worksheets as ZIP64
        # entries, which plain entries cannot be turned into once written.
        _write(df, path, sheet, max_rows, created, author, chunk_rows, compresslevel, zip64=True)


def _write(df: pl.DataFrame, path: Path | str, sheet: str, max_rows: int, created: dt.datetime, author: str,
           chunk_rows: int, level: int, zip64: bool) -> None:
    headers = df.columns
    kinds = [_kind(t) for t in df.dtypes]
    # The cells' text, under positional names c0, c1 … (a header may be any text).
    values = [_value(pl.col(c), t, c).alias(f"c{j}") for j, (c, t) in enumerate(df.schema.items())]
    header = pl.DataFrame([pl.Series(f"c{j}", [h], dtype=pl.String) for j, h in enumerate(headers)])
    text_columns = [t == pl.String for t in df.dtypes]
    parts = max(1, -(-df.height // max_rows))
    names = _sheet_names(sheet, parts)

    def chunks(part: pl.DataFrame) -> Iterator[pa.Array]:
        for start in range(0, part.height, chunk_rows):
            yield _rows(part.slice(start, chunk_rows).select(values), kinds, _TEXT_STYLE, first_row=start + 2)

    with zipfile.ZipFile(path, "w") as zf:
        for name, text in (
            ("[Content_Types].xml", _content_types(parts)),
            ("_rels/.rels", _ROOT_RELS),
            ("docProps/app.xml", _app(names)),
            ("docProps/core.xml", _core(sheet, author, created)),
            ("xl/workbook.xml", _workbook(names)),
            ("xl/_rels/workbook.xml.rels", _workbook_rels(parts)),
            ("xl/styles.xml", _STYLES),
        ):
            zf.writestr(_entry(name, level), text.encode())
        for k, name in enumerate(names):
            part = df.slice(k * max_rows, max_rows)
            try:
                # Streamed: zipfile deflates each write; the entry's sizes and CRC are
                # filled in at the end (the file is seekable: no data descriptor).
                with zf.open(_entry(f"xl/worksheets/sheet{k + 1}.xml", level), "w", force_zip64=zip64) as out:
                    out.write(_sheet_head(headers, text_columns, part.height, selected=k == 0).encode())
                    for b in _bytes(_rows(header, [_TEXT] * len(headers), _HEADER_STYLE, first_row=1)):
                        out.write(b)
                    for rows in _prefetched(chunks(part)):
                        for b in _bytes(rows):
                            out.write(b)
                    out.write(_SHEET_TAIL.encode())
            except RuntimeError as e:  # zipfile: "File size too large, try using force_zip64"
                if "force_zip64" in str(e):
                    raise _TooLarge(name) from e
                raise
