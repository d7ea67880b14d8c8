"""Read a delivered file into a frame of strings with its original headers.

- CSV: encoding detected on a sample (UTF-8 / UTF-8 BOM preferred when the sample
  decodes cleanly, otherwise charset-normalizer; GB2312/GBK are read as their superset
  GB18030), RFC 4180, every column as text.
- XLSX: first sheet, header in the first non-empty row (calamine). Cells Excel stored
  as numbers are rendered as Excel shows them (15 significant digits, so an 18-digit code
  typed as a number comes back as ``916201055811843000``) and reported in
  ``ReadResult.numeric_cells`` so that code columns can be flagged; date cells come back
  as ``YYYY-MM-DD HH:MM:SS`` text and serials as their number, both parsed later.
- JSON: an array of objects (keys = headers).

Nothing here loops over rows in Python. Any failure raises :class:`UnreadableFile`
with a Chinese reason.
"""

from __future__ import annotations

import codecs
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from charset_normalizer import from_bytes

DEFAULT_SAMPLE_BYTES = 262_144
_LEADING_WS = re.compile(rb"[ \t\n\r\x0b\x0c]*")
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "cp936", "hz", "big5"}


class UnreadableFile(Exception):
    """The file cannot be read (``unreadable``) or holds no data rows (``empty``)."""

    def __init__(self, reason: str, rule: str = "unreadable") -> None:
        super().__init__(reason)
        self.reason = reason
        self.rule = rule


@dataclass
class ReadResult:
    frame: pl.DataFrame  # all String, original headers, data rows only
    encoding: str | None = None
    file_format: str = "csv"
    # original column -> Boolean Series (True where the cell was an Excel number
    # large enough to have lost digits)
    numeric_cells: dict[str, pl.Series] = field(default_factory=dict)


def detect_encoding(data: bytes, sample_bytes: int = DEFAULT_SAMPLE_BYTES) -> str:
    """``utf-8-sig``, ``utf-8`` or what charset-normalizer finds (GB family → gb18030)."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    sample = data[:sample_bytes]
    try:
        # final=False: a multi-byte character cut at the sample's end is not an error
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=len(sample) == len(data))
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = from_bytes(sample).best()
    if best is None:
        raise UnreadableFile("无法识别文件编码")
    enc = best.encoding.lower().replace("_", "")
    if enc in {e.replace("_", "") for e in _GB_FAMILY} and enc != "big5":
        return "gb18030"
    return best.encoding


def _drop_empty_rows(df: pl.DataFrame) -> pl.DataFrame:
    if df.width == 0 or df.height == 0:
        return df
    return df.filter(~pl.all_horizontal(pl.all().is_null()))


def _clean_headers(cols: list[str]) -> list[str]:
    """Headers as strings; blanks get a placeholder so polars accepts them."""
    out, seen = [], set()
    for i, c in enumerate(cols):
        c = "" if c is None else str(c)
        c = c.replace("\ufeff", "")
        if c.strip() == "":
            c = f"列{i + 1}"
        base, n = c, 1
        while c in seen:
            n += 1
            c = f"{base}_{n}"
        seen.add(c)
        out.append(c)
    return out


def _blank(data: bytes) -> bool:
    """``not data.strip()`` without copying the file (same ASCII white space set)."""
    return not data or data.isspace()


def read_csv_bytes(data: bytes, sample_bytes: int = DEFAULT_SAMPLE_BYTES) -> ReadResult:
    if _blank(data):
        raise UnreadableFile("文件为空", rule="empty")
    enc = detect_encoding(data, sample_bytes)
    if enc == "utf-8-sig":
        buf: bytes | memoryview = memoryview(data)[3:]
    elif enc == "utf-8":
        buf = data
    else:
        try:
            buf = data.decode(enc).encode("utf-8")
        except (UnicodeDecodeError, LookupError) as e:
            raise UnreadableFile(f"文件编码（{enc}）解码失败：{e}") from e
    try:
        df = pl.read_csv(
            bytes(buf) if isinstance(buf, memoryview) else buf,
            infer_schema=False,
            encoding="utf8",
            quote_char='"',
            raise_if_empty=False,
            with_column_names=_clean_headers,
        )
    except pl.exceptions.ComputeError as e:
        msg = str(e).splitlines()[0]
        if enc == "utf-8" and "utf-8" in msg.lower():
            # clean sample but invalid UTF-8 further on: detect on the whole file
            return read_csv_bytes(data, sample_bytes=len(data))
        raise UnreadableFile(f"CSV 格式错误：{msg}") from e
    except Exception as e:  # noqa: BLE001 - any parser failure is a file-level rejection
        raise UnreadableFile(f"CSV 无法解析：{str(e).splitlines()[0]}") from e
    df = _drop_empty_rows(df)
    if df.width == 0 or df.height == 0:
        raise UnreadableFile("文件没有数据行", rule="empty")
    return ReadResult(df, encoding=enc, file_format="csv")


def number_cell_candidates(text: pl.Series) -> pl.Series:
    """Cells that may be Excel *number* cells holding a long code.

    calamine renders a number cell read as text with the full decimal expansion of its
    float64 (9.16201055811843e17 → ``916201055811843072``), and coerces numeric-looking
    *text* cells when asked for floats, so cell types cannot be read back. A digit-only
    value of 16+ digits that equals the expansion of its own float64 is such a
    candidate: a real number cell always is, a text code only by chance (about 1 in 128
    at 18 digits). The normaliser re-renders candidates as Excel displays them only when
    the code is invalid, so a correct code typed as text is never altered."""
    s = text.cast(pl.String)
    digits = s.str.contains(r"^\d{16,19}$").fill_null(False)
    roundtrip = s.cast(pl.Float64, strict=False).cast(pl.Decimal(38, 0), strict=False).cast(pl.String) == s
    return (digits & roundtrip.fill_null(False)).alias(text.name)


def excel_display_expr(e: pl.Expr) -> pl.Expr:
    """A long number as Excel displays it: rounded to 15 significant digits, the tail as
    zeros (``916201055811842944`` → ``916201055811843000``)."""
    scale = (e.str.len_chars() - 15).clip(lower_bound=0)
    mant = (e.cast(pl.Float64, strict=False) / pl.lit(10.0).pow(scale)).round(0).cast(pl.Int64, strict=False)
    return pl.concat_str([mant.cast(pl.String), pl.lit("0").repeat_by(scale).list.join("")])


def read_xlsx_bytes(data: bytes) -> ReadResult:
    opts = {"engine": "calamine", "has_header": False, "drop_empty_rows": False, "drop_empty_cols": False}
    try:
        text = pl.read_excel(io.BytesIO(data), sheet_id=1, read_options={"dtypes": "string"}, **opts)
    except Exception as e:  # noqa: BLE001 - calamine / zip errors
        raise UnreadableFile(f"XLSX 无法读取：{str(e).splitlines()[0]}") from e
    if text.height == 0 or text.width == 0:
        raise UnreadableFile("文件为空", rule="empty")
    nonempty = ~pl.all_horizontal(pl.all().is_null() | (pl.all().str.strip_chars() == ""))
    text = text.filter(text.select(nonempty.alias("k"))["k"])
    if text.height == 0:
        raise UnreadableFile("文件为空", rule="empty")
    header = _clean_headers([None if v is None else str(v).strip() for v in text.row(0)])
    text = text.slice(1)
    text = text.rename(dict(zip(text.columns, header, strict=True)))
    if text.height == 0:
        raise UnreadableFile("文件没有数据行", rule="empty")
    # Integral number cells come back as "12.0"-free text already; remember long
    # numbers that may be Excel-mangled codes.
    numeric_cells: dict[str, pl.Series] = {}
    for c in header:
        cand = number_cell_candidates(text[c])
        if cand.any():
            numeric_cells[c] = cand
    return ReadResult(text, encoding=None, file_format="xlsx", numeric_cells=numeric_cells)


def _number_text(v: pl.Expr) -> pl.Expr:
    """A JSON float as text the way Excel shows a number: integral values without ``.0``,
    16+ digits as :func:`excel_display_expr` (9.16201055811843e17 → ``916201055811843000``)."""
    whole = v.cast(pl.Decimal(38, 0), strict=False).cast(pl.String)
    return (
        pl.when(v.is_null()).then(None)
        .when(v.abs() >= 1e15).then(excel_display_expr(whole))
        .when(v == v.round(0)).then(v.cast(pl.Int64, strict=False).cast(pl.String))
        .otherwise(v.cast(pl.String))
    )


def _json_to_text(df: pl.DataFrame) -> pl.DataFrame:
    out = []
    for c, t in df.schema.items():
        e = pl.col(c)
        if isinstance(t, (pl.Struct, pl.List, pl.Array)):
            e = pl.struct(e.alias("v")).struct.json_encode().str.slice(5).str.head(-1)
            e = pl.when(pl.col(c).is_null()).then(None).otherwise(e)
        elif t.is_float():
            e = _number_text(e)
        elif t != pl.String:
            e = e.cast(pl.String)
        out.append(e.alias(c))
    return df.select(out)


def read_json_bytes(data: bytes) -> ReadResult:
    if _blank(data):
        raise UnreadableFile("文件为空", rule="empty")
    enc = detect_encoding(data)
    if enc not in ("utf-8", "utf-8-sig"):
        try:
            data = data.decode(enc).encode("utf-8")
        except (UnicodeDecodeError, LookupError) as e:
            raise UnreadableFile(f"JSON 编码（{enc}）解码失败：{e}") from e
    elif enc == "utf-8-sig":
        data = data[3:]
    start = _LEADING_WS.match(data).end()  # data.lstrip() without the copy
    head = data[start:start + 1]
    if head != b"[":
        raise UnreadableFile("JSON 必须是对象数组")
    try:
        df = pl.read_json(io.BytesIO(data), infer_schema_length=None)
    except Exception as e:  # noqa: BLE001 - any parser failure is a file-level rejection
        raise UnreadableFile(f"JSON 无法解析：{str(e).splitlines()[0]}") from e
    if df.height == 0 or df.width == 0:
        raise UnreadableFile("文件没有数据行", rule="empty")
    df = _json_to_text(df)
    df = df.rename(dict(zip(df.columns, _clean_headers(df.columns), strict=True)))
    df = _drop_empty_rows(df)
    if df.height == 0:
        raise UnreadableFile("文件没有数据行", rule="empty")
    return ReadResult(df, encoding=enc, file_format="json")


def read_bytes(data: bytes, ext: str, sample_bytes: int = DEFAULT_SAMPLE_BYTES) -> ReadResult:
    ext = ext.lower().lstrip(".")
    if ext == "csv":
        return read_csv_bytes(data, sample_bytes)
    if ext == "xlsx":
        return read_xlsx_bytes(data)
    if ext == "json":
        return read_json_bytes(data)
    raise UnreadableFile(f"不支持的文件格式：.{ext}", rule="unsupported_format")


def read_file(path: Path | str, sample_bytes: int = DEFAULT_SAMPLE_BYTES) -> ReadResult:
    p = Path(path)
    return read_bytes(p.read_bytes(), p.suffix, sample_bytes)
