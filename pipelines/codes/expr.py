"""Vectorised twins of :mod:`pipelines.codes.validators` as polars expressions.

No Python runs per row: characters are valued with ``str.slice`` + ``replace_strict``
over the fixed positions and summed; the USCC status (the hot path: every subject
reference of every record) uses a numpy kernel over the column's bytes instead. Every expression normalises its input first, so
``uscc_status_expr(pl.col("x"))`` on a raw column gives the same answer as
``check_uscc(x).status``. Null in, null out.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from ..textnorm import half_width_expr
from .constants import (
    CODE_HYPHENS,
    CODE_WHITESPACE,
    ID_BIRTH_YEAR_MAX,
    ID_BIRTH_YEAR_MIN,
    ID_CHECK,
    ID_WEIGHTS,
    INDUSTRY_CODE_PATTERN,
    LOOKALIKES,
    NATIONAL_REGION_CODE,
    ORG_CHECK,
    ORG_VALUE,
    ORG_WEIGHTS,
    PROVINCE_CODES,
    USCC_ALPHABET,
    USCC_PREFIXES,
    USCC_VALUE,
    USCC_WEIGHTS,
)
from .validators import (
    BAD_ALPHABET,
    BAD_CHECK,
    BAD_LENGTH,
    BAD_PREFIX,
    SUSPICIOUS,
    VALID,
)

_REMOVE = list(dict.fromkeys(CODE_WHITESPACE + CODE_HYPHENS))
_LOWER = [chr(c) for c in range(ord("a"), ord("z") + 1)]
_UPPER = [c.upper() for c in _LOWER]
_DIGIT_VALUE = {str(i): i for i in range(10)}

_USCC_RE = "^[" + USCC_ALPHABET + "]{18}$"
_ORG_RE = r"^[0-9A-Z]{8}[0-9X]$"
_REG_RE = r"^[0-9]{15}$"
_ID_RE = r"^[0-9]{17}[0-9X]$"


def normalize_code_expr(e: pl.Expr) -> pl.Expr:
    """Vectorised :func:`~pipelines.codes.validators.normalize_code`."""
    h = half_width_expr(e)
    h = h.str.replace_many(_REMOVE, [""] * len(_REMOVE))
    return h.str.replace_many(_LOWER, _UPPER)


def _char_values(n: pl.Expr, start: int, count: int, table: dict[str, int]) -> list[pl.Expr]:
    return [
        n.str.slice(start + i, 1).replace_strict(table, default=None, return_dtype=pl.Int64)
        for i in range(count)
    ]


def _weighted_sum(values: list[pl.Expr], weights: tuple[int, ...]) -> pl.Expr:
    total = values[0] * weights[0]
    for v, w in zip(values[1:], weights[1:], strict=True):
        total = total + v * w
    return total


def uscc_check_char_expr(n: pl.Expr) -> pl.Expr:
    """Expected 18th character for an already normalised 17+-character code."""
    total = _weighted_sum(_char_values(n, 0, 17, USCC_VALUE), USCC_WEIGHTS)
    return ((31 - total % 31) % 31).replace_strict(
        dict(enumerate(USCC_ALPHABET)), return_dtype=pl.String
    )


def org_check_char_expr(n: pl.Expr, start: int = 0) -> pl.Expr:
    """Expected GB 11714 check character of the 8-character body at ``start``."""
    total = _weighted_sum(_char_values(n, start, 8, ORG_VALUE), ORG_WEIGHTS)
    return ((11 - total % 11) % 11).replace_strict(
        dict(enumerate(ORG_CHECK)), return_dtype=pl.String
    )


# Lookup tables of the byte-level kernel (uscc_status_expr): character → value.
_LUT_USCC = np.full(256, -1, dtype=np.int64)
for _c, _v in USCC_VALUE.items():
    _LUT_USCC[ord(_c)] = _v
_LUT_ORG = np.full(256, -1, dtype=np.int64)
for _c, _v in ORG_VALUE.items():
    _LUT_ORG[ord(_c)] = _v
_PREFIX_OK = np.zeros(1 << 16, dtype=bool)
for _p in USCC_PREFIXES:
    _PREFIX_OK[(ord(_p[0]) << 8) | ord(_p[1])] = True
_ORG_CHECK_BYTES = np.frombuffer(ORG_CHECK.encode("ascii"), dtype=np.uint8)
_W_USCC = np.array(USCC_WEIGHTS, dtype=np.int64)
_W_ORG = np.array(ORG_WEIGHTS, dtype=np.int64)
_STATUS = [None, BAD_LENGTH, BAD_ALPHABET, BAD_PREFIX, BAD_CHECK, SUSPICIOUS, VALID]


def _uscc_status_batch(n: pl.Series) -> pl.Series:
    """Status of already normalised codes, a whole column at a time.

    The 18-character ASCII codes are laid side by side in one byte buffer (one string
    join in polars), viewed as an ``n × 18`` matrix, valued through lookup tables and
    checked with two weighted sums — no Python per code."""
    lens = n.str.len_chars().to_numpy()
    ascii18 = (lens == 18) & (n.str.len_bytes().to_numpy() == 18)
    code = np.where(n.is_null().to_numpy(), 0, np.where(lens != 18, 1, 2)).astype(np.int8)
    if ascii18.any():
        sub = n.filter(pl.Series(ascii18))
        arr = np.frombuffer(sub.str.join("").item().encode("ascii"), dtype=np.uint8).reshape(-1, 18)
        v = _LUT_USCC[arr]
        alpha_ok = (v >= 0).all(axis=1) & ((arr[:, 2:8] >= 48) & (arr[:, 2:8] <= 57)).all(axis=1)
        prefix_ok = _PREFIX_OK[(arr[:, 0].astype(np.int64) << 8) | arr[:, 1]]
        total = np.maximum(v[:, :17], 0) @ _W_USCC
        check_ok = v[:, 17] == (31 - total % 31) % 31
        inner = np.maximum(_LUT_ORG[arr[:, 8:16]], 0) @ _W_ORG
        inner_ok = arr[:, 16] == _ORG_CHECK_BYTES[(11 - inner % 11) % 11]
        code[ascii18] = np.select([~alpha_ok, ~prefix_ok, ~check_ok, ~inner_ok], [2, 3, 4, 5], 6)
    return pl.Series(n.name, code).replace_strict(dict(enumerate(_STATUS)), return_dtype=pl.String)


def uscc_status_expr(e: pl.Expr) -> pl.Expr:
    """Utf8 status: valid / suspicious / bad_length / bad_alphabet / bad_prefix / bad_check.

    Order of the verdicts as in ``check_uscc``: length, alphabet (positions 3–8 digits),
    prefix pair, outer mod-31 check, inner GB 11714 check (suspicious)."""
    return normalize_code_expr(e).map_batches(
        _uscc_status_batch, return_dtype=pl.String, is_elementwise=True
    ).name.keep()


def uscc_is_valid_expr(e: pl.Expr) -> pl.Expr:
    """True for ``valid`` or ``suspicious`` (null for null input)."""
    return uscc_status_expr(e).is_in([VALID, SUSPICIOUS])


def _guarded(n: pl.Expr, shape: pl.Expr, check: pl.Expr) -> pl.Expr:
    return (
        pl.when(n.is_null()).then(None).when(shape).then(check.fill_null(False)).otherwise(False)
    ).name.keep()


def org_code_is_valid_expr(e: pl.Expr) -> pl.Expr:
    n = normalize_code_expr(e)
    return _guarded(n, n.str.contains(_ORG_RE), org_check_char_expr(n) == n.str.slice(8, 1))


def reg_no_check_digit_expr(n: pl.Expr) -> pl.Expr:
    """ISO 7064 MOD 11,10 over the first 14 digits."""
    p: pl.Expr = pl.lit(10, dtype=pl.Int64)
    for d in _char_values(n, 0, 14, _DIGIT_VALUE):
        # s = (p + d) mod 10, with 0 read as 10; written so that p occurs once per step
        # (p + d >= 1 always), keeping the expression tree linear.
        s = (p + d - 1) % 10 + 1
        p = (2 * s) % 11
    return ((11 - p) % 10).cast(pl.String)


def reg_no_is_valid_expr(e: pl.Expr) -> pl.Expr:
    n = normalize_code_expr(e)
    return _guarded(n, n.str.contains(_REG_RE), reg_no_check_digit_expr(n) == n.str.slice(14, 1))


def real_date_expr(yyyymmdd: pl.Expr) -> pl.Expr:
    """An 8-digit string is a real calendar date in the accepted birth-year range."""
    y = yyyymmdd.str.slice(0, 4).cast(pl.Int64, strict=False)
    m = yyyymmdd.str.slice(4, 2).cast(pl.Int64, strict=False)
    d = yyyymmdd.str.slice(6, 2).cast(pl.Int64, strict=False)
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    days = m.replace_strict(
        {1: 31, 2: 28, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31},
        default=0, return_dtype=pl.Int64,
    ) + pl.when(leap & (m == 2)).then(1).otherwise(0)
    ok = y.is_between(ID_BIRTH_YEAR_MIN, ID_BIRTH_YEAR_MAX) & (d >= 1) & (d <= days)
    return ok.fill_null(False)


def id_check_char_expr(n: pl.Expr) -> pl.Expr:
    total = _weighted_sum(_char_values(n, 0, 17, _DIGIT_VALUE), ID_WEIGHTS)
    return (total % 11).replace_strict(dict(enumerate(ID_CHECK)), return_dtype=pl.String)


def id_no_is_valid_expr(e: pl.Expr) -> pl.Expr:
    """MOD 11-2 check and a real birth date."""
    n = normalize_code_expr(e)
    check = (id_check_char_expr(n) == n.str.slice(17, 1)) & real_date_expr(n.str.slice(6, 8))
    return _guarded(n, n.str.contains(_ID_RE), check)


def region_code_is_valid_expr(e: pl.Expr) -> pl.Expr:
    """6 digits with a real GB/T 2260 province prefix (or the national ``100000``)."""
    n = normalize_code_expr(e)
    shape = n.str.contains(r"^[0-9]{6}$")
    check = n.str.slice(0, 2).is_in(sorted(PROVINCE_CODES)) | (n == NATIONAL_REGION_CODE)
    return _guarded(n, shape, check)


def industry_code_is_valid_expr(e: pl.Expr) -> pl.Expr:
    """GB/T 4754: a section letter A–T optionally followed by 2–4 digits."""
    n = normalize_code_expr(e)
    return pl.when(n.is_null()).then(None).otherwise(n.str.contains(INDUSTRY_CODE_PATTERN)).name.keep()


def lookalike_fix_expr(e: pl.Expr) -> pl.Expr:
    """Normalised code with look-alike letters replaced (O→0, I→1, …)."""
    keys = list(LOOKALIKES)
    return normalize_code_expr(e).str.replace_many(keys, [LOOKALIKES[k] for k in keys])
