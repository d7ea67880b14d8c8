"""Masking for anything shown to auditors: never a full ID number."""

from __future__ import annotations

import re
import sys
from functools import cache
from typing import Any

import polars as pl

# Anything that looks like an 18-char ID number (17 digits + digit or X), not glued to
# other letters/digits. Full-width digits are normalised by ingestion; the raw JSON of a
# rejected row may still hold them, so they are matched too.
_ID_RE = re.compile(r"(?<![0-9A-Za-z０-９])([0-9０-９]{4})[0-9０-９]{10}([0-9０-９]{3}[0-9０-９XxＸｘ])(?![0-9A-Za-z０-９])")
# 15-digit first-generation ID numbers are masked the same way.
_ID15_RE = re.compile(r"(?<![0-9A-Za-z])(\d{4})\d{7}(\d{4})(?![0-9A-Za-z])")


def mask_id(value: Any) -> Any:
    """``360402199001010071`` → ``3604**********0071``; other values unchanged."""
    if value is None or not isinstance(value, str):
        return value
    return mask_ids(value)


def mask_ids(text: str | None) -> str | None:
    """Mask every ID-number-like token inside a text (reasons, raw JSON, file names)."""
    if not text:
        return text
    text = _ID_RE.sub(lambda m: m.group(1) + "*" * 10 + m.group(2), text)
    return _ID15_RE.sub(lambda m: m.group(1) + "*" * 7 + m.group(2), text)


def mask_personal(value: Any) -> Any:
    """A personal value that is not an ID number (a name): keep the first character."""
    if value is None or (isinstance(value, float) and value != value):
        return value
    s = str(value)
    if not s:
        return s
    masked = mask_ids(s)
    if masked != s:
        return masked
    return s[0] + "*" * max(1, len(s) - 1)


# --------------------------------------------------------------------------- vectorised
#
# The same masking as polars expressions, for whole columns. polars' regex engine (Rust
# ``regex``) has no look-around, and its ``\d`` / ``\s`` follow a different Unicode table
# than Python's ``re``, so the patterns are restated:
#
# * ``\d`` and ``\s`` become explicit classes of exactly the characters Python's ``re``
#   matches (``str.isdecimal`` / ``str.isspace``), see :func:`py_class`.
# * ``_ID_RE``: its look-behind and look-ahead become captured neighbours (re-emitted by
#   the replacement). Two matches never overlap (inside a match every character but the
#   last is a digit, which may not precede a match; the character after a match is not
#   a digit), but the one character between two IDs is the trailing neighbour of the
#   first and the leading neighbour of the second, so one pass skips the second. A
#   second pass masks exactly those: after the first no two unmasked IDs are that
#   close, and masking creates no new 18-digit run.
# * ``_ID15_RE``: here matches *can* overlap (a non-ASCII digit is both a digit and an
#   allowed neighbour, e.g. in sixteen full-width digits), so neighbours must not be
#   consumed. The neighbour class ``[0-9A-Za-z]`` is the ASCII word class but for
#   ``_``, so the look-arounds become ASCII word-boundary assertions: ``(?-u:\b)`` next
#   to an ASCII digit (a word character), ``(?-u:\B)`` next to a non-ASCII digit (not
#   one). For ``_`` (a word character that *is* an allowed neighbour) the text is
#   escaped meanwhile: ``\x00`` → ``\x00\x01``, ``_`` → ``\x00\x02``, two non-word
#   characters each; decoding is unambiguous since every ``\x00`` then starts a pair.

_NUL, _NUL_ESC, _USCORE_ESC = "\x00", "\x00\x01", "\x00\x02"


@cache
def py_chars(kind: str) -> str:
    """Every character Python's ``re`` matches with ``\\d`` (``kind="digit"``) or ``\\s``
    (``kind="space"``); the latter is also what ``str.strip()`` removes."""
    test = {"digit": str.isdecimal, "space": str.isspace}[kind]
    return "".join(c for c in map(chr, range(sys.maxunicode + 1)) if test(c))


def _ranges(chars: str) -> str:
    """A regex character-class body (no brackets) of ``chars``, as ``\\x{..}`` ranges."""
    cps = sorted(map(ord, chars))
    out: list[str] = []
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        out.append(f"\\x{{{cps[i]:x}}}" + (f"-\\x{{{cps[j]:x}}}" if j > i else ""))
        i = j + 1
    return "".join(out)


@cache
def py_class(kind: str, *, ascii_digits: bool = True) -> str:
    """:func:`py_chars` as a class body for a polars pattern (``[...]`` around it);
    ``ascii_digits=False`` leaves out 0-9 (the non-ASCII decimal digits only)."""
    chars = py_chars(kind)
    if not ascii_digits:
        chars = "".join(c for c in chars if not "0" <= c <= "9")
    return _ranges(chars)


@cache
def _id18_pattern() -> str:
    d, b = "0-9０-９", "0-9A-Za-z０-９"
    return rf"(^|[^{b}])([{d}]{{4}})[{d}]{{10}}([{d}]{{3}}[{d}XxＸｘ])([^{b}]|$)"


@cache
def _id15_pattern() -> str:
    n = py_class("digit", ascii_digits=False)
    d = f"0-9{n}"
    first = rf"(?:(?-u:\b)[0-9]|(?-u:\B)[{n}])"
    last = rf"(?:[0-9](?-u:\b)|[{n}](?-u:\B))"
    return rf"({first}[{d}]{{3}})[{d}]{{7}}([{d}]{{3}}{last})"


def mask_ids_expr(expr: pl.Expr) -> pl.Expr:
    """Vectorised :func:`mask_ids` over a string column (null stays null). Use it in a
    lazy query: the sub-expressions repeat and polars computes them once there."""
    d, d18 = py_class("digit"), "0-9０-９"
    # Both patterns need 15 digits in a row, so shorter cells pass through untouched;
    # the regexes below see only the others (the rest are null to them, which is free).
    long = pl.when(expr.str.len_chars() >= 15).then(expr)
    # A cell that is exactly one ID number (what ID columns hold) is masked whole by
    # _ID_RE, or by _ID15_RE, leaving nothing for the other: slice it.
    whole18 = long.str.contains(rf"^[{d18}]{{17}}[{d18}XxＸｘ]$")
    whole15 = long.str.contains(rf"^[{d}]{{15}}$")
    # Anything else with 15 digits in a row goes through both patterns.
    e = pl.when(long.str.contains(rf"[{d}]{{15}}") & ~whole18 & ~whole15).then(long)
    id18 = _id18_pattern()
    e = e.str.replace_all(id18, "${1}${2}" + "*" * 10 + "${3}${4}")
    e = e.str.replace_all(id18, "${1}${2}" + "*" * 10 + "${3}${4}")
    e = e.str.replace_many([_NUL, "_"], [_NUL_ESC, _USCORE_ESC])
    e = e.str.replace_all(_id15_pattern(), "${1}" + "*" * 7 + "${2}")
    e = e.str.replace_many([_NUL_ESC, _USCORE_ESC], [_NUL, "_"])
    return (
        pl.when(whole18).then(pl.concat_str([expr.str.slice(0, 4), pl.lit("*" * 10), expr.str.slice(14)]))
        .when(whole15).then(pl.concat_str([expr.str.slice(0, 4), pl.lit("*" * 7), expr.str.slice(11)]))
        .otherwise(pl.coalesce(e, expr))
    )


def mask_personal_expr(expr: pl.Expr) -> pl.Expr:
    """Vectorised :func:`mask_personal` over a string column (null stays null); lazy,
    as :func:`mask_ids_expr`."""
    masked = mask_ids_expr(expr)
    plain = pl.when(masked == expr).then(expr)  # not an ID: first character and stars
    stars = pl.lit("").str.pad_end(pl.max_horizontal(plain.str.len_chars() - 1, 1), "*")
    return (
        pl.when(expr == "").then(expr)
        .when(masked != expr).then(masked)
        .otherwise(pl.concat_str([plain.str.slice(0, 1), stars]))
    )
