"""Making cells safe to hand out: no full ID numbers, no formulas.

- Any 居民身份证号 (GB 11643: province, real birth date, valid check character) found
  inside a text cell is masked ``3604**********0071`` (first 4 and last 4 kept).
- A text cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a CR is prefixed with
  ``'`` so spreadsheet programs show it as text (CSV/formula injection)."""

from __future__ import annotations

import datetime as dt
import re

import polars as pl

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PROVINCES = {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36",
              "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62",
              "63", "64", "65", "71", "81", "82", "83", "91"}
_ID_RE = re.compile(r"(?<!\d)(\d{17}[\dXx])(?![\dXx])")
_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_CHECK = "10X98765432"


def is_id_number(s: str) -> bool:
    if len(s) != 18 or s[:2] not in _PROVINCES or not s[:17].isdigit():
        return False
    try:
        dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return False
    if not 1900 <= int(s[6:10]) <= 2100:
        return False
    return _CHECK[sum(int(c) * w for c, w in zip(s[:17], _WEIGHTS, strict=True)) % 11] == s[17].upper()


def mask_id(s: str) -> str:
    return s[:4] + "*" * (len(s) - 8) + s[-4:]


def mask_ids(text: str) -> str:
    return _ID_RE.sub(lambda m: mask_id(m.group(1)) if is_id_number(m.group(1)) else m.group(1), text)


def neutralise(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_START) else text


def safe_text(value: str | None) -> str | None:
    if value is None:
        return None
    return neutralise(mask_ids(value))


def safe_frame(df: pl.DataFrame) -> pl.DataFrame:
    """Every text column made safe (numbers, dates and booleans are left as they are).

    Vectorised: formulas are neutralised by a polars expression; only cells that contain
    an 18-character ID-number candidate (rare) go through :func:`safe_text`."""
    if not df.height:
        return df
    cols = []
    for c, t in df.schema.items():
        if t != pl.Utf8:
            continue
        col = pl.col(c)
        neutral = pl.when(col.str.contains(r"^[=+\-@\t\r]")).then(pl.lit("'") + col).otherwise(col)
        cols.append(
            pl.when(col.str.contains(r"\d{17}[\dXx]"))
            .then(col.map_elements(safe_text, return_dtype=pl.Utf8, skip_nulls=True))
            .otherwise(neutral)
            .alias(c)
        )
    return df.with_columns(cols) if cols else df
