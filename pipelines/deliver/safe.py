"""Making cells safe to hand out: no full ID numbers, no formulas.

- Any 居民身份证号 (GB 11643: province, real birth date, valid check character) found
  inside a text cell is masked ``3604**********0071`` (first 4 and last 4 kept).
- A text cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a CR is prefixed with
  ``'`` so spreadsheet programs show it as text (CSV/formula injection)."""

from __future__ import annotations

import re

import polars as pl

from ..codes.privacy import MASK_CHAR, MASK_KEEP_HEAD, MASK_KEEP_TAIL
from ..codes.validators import check_id_no

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Cheap vectorised pre-filter, a superset of the ID numbers _ID_RE + check_id_no accept:
# 10 digits, a month's first digit 0/1, any digit, a day's first digit 0–3, 4 more. Most
# all-digit USCCs fail it, so only a few cells go through the exact per-cell check.
_ID_CANDIDATE = r"\d{10}[01０１]\d[0-3０-３]\d{4}[\dXx]"
_ID_RE = re.compile(r"(?<!\d)(\d{17}[\dXx])(?![\dXx])")


def is_id_number(s: str) -> bool:
    """A valid 居民身份证号 (GB 11643: check character and a real birth date), by the
    project's one validator (pipelines.codes.validators)."""
    return check_id_no(s).valid


def mask_id(s: str) -> str:
    """Masked as everywhere (first 4, last 4 kept), keeping the cell's own characters."""
    return s[:MASK_KEEP_HEAD] + MASK_CHAR * (len(s) - MASK_KEEP_HEAD - MASK_KEEP_TAIL) + s[-MASK_KEEP_TAIL:]


def mask_ids(text: str) -> str:
    """Mask every *valid* ID number inside a text; other 18-character codes (an all-digit
    USCC) stay as they are."""
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
    an ID-number candidate (18 characters with a plausible month and day; rare) go
    through :func:`safe_text`."""
    if not df.height:
        return df
    cols = []
    for c, t in df.schema.items():
        if t != pl.Utf8:
            continue
        s = df[c]
        out = pl.select(pl.when(s.str.contains(r"^[=+\-@\t\r]")).then(pl.lit("'") + s).otherwise(s)).to_series()
        # The exact check only on the candidate cells (a when/then would run it on all).
        idx = s.str.contains(_ID_CANDIDATE).fill_null(False).arg_true()
        if len(idx):
            out = out.scatter(idx, s.gather(idx).map_elements(safe_text, return_dtype=pl.Utf8))
        cols.append(out.alias(c))
    return df.with_columns(cols) if cols else df
