"""Text normalisation shared by headers, values, codes and names.

Full-width ASCII (U+FF01..U+FF5E) and the ideographic space map to half-width; the
same table is used as a scalar function and as a vectorised polars expression so that
the two can never disagree.
"""

from __future__ import annotations

import re

import polars as pl

_FULL = [chr(c) for c in range(0xFF01, 0xFF5F)] + ["\u3000"]
_HALF = [chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)] + [" "]
_TABLE = str.maketrans(dict(zip(_FULL, _HALF, strict=True)))
# Zero-width and BOM characters that survive copy-paste from Word/Excel.
_INVISIBLE = ["\ufeff", "\u200b", "\u200c", "\u200d", "\u2060", "\xa0"]
_INVISIBLE_REPL = ["", "", "", "", "", " "]
_WS = re.compile(r"\s+")


def to_half_width(s: str) -> str:
    for a, b in zip(_INVISIBLE, _INVISIBLE_REPL, strict=True):
        s = s.replace(a, b)
    return s.translate(_TABLE)


def half_width_expr(expr: pl.Expr) -> pl.Expr:
    """Vectorised :func:`to_half_width` (Aho-Corasick in polars, no Python per row)."""
    return expr.str.replace_many(_FULL + _INVISIBLE, _HALF + _INVISIBLE_REPL)


def normalize_value(s: str | None) -> str | None:
    """Half-width and trimmed; empty becomes None."""
    if s is None:
        return None
    s = to_half_width(s).strip()
    return s or None


def normalize_value_expr(expr: pl.Expr) -> pl.Expr:
    e = half_width_expr(expr).str.strip_chars()
    return pl.when(e == "").then(None).otherwise(e)


def normalize_header(s: str) -> str:
    """Header key: half-width, no white space at all, upper-case ASCII, unified brackets."""
    s = to_half_width(str(s))
    s = _WS.sub("", s)
    return s.upper()


def normalize_name(s: str | None) -> str | None:
    """Subject name key (codes.md): half-width, unified brackets, no spaces."""
    if s is None:
        return None
    s = _WS.sub("", to_half_width(s))
    return s or None


def normalize_name_expr(expr: pl.Expr) -> pl.Expr:
    e = half_width_expr(expr).str.replace_all(r"\s+", "")
    return pl.when(e == "").then(None).otherwise(e)
