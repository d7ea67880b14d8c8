"""Vectorised generation (and checking) of valid identifiers (codes.md).

Every function works on whole numpy arrays: check characters are computed over a
``(n, length)`` matrix of character values, never with a Python loop per code. Codes
are returned as numpy unicode arrays (``<U18``, ``<U15``, ``<U9``); ``ascii_series``
turns such an array into a polars series quickly.

The checkers (``uscc_valid`` …) are small independent re-implementations used by the
demo generator and its tests; the governance validators live elsewhere.
"""

from __future__ import annotations

import numpy as np

from .constants import (
    ID_CHECK,
    ID_WEIGHTS,
    ORG_ALPHABET,
    ORG_WEIGHTS,
    USCC_ALPHABET,
    USCC_PREFIXES,
    USCC_WEIGHTS,
)

_USCC_W = np.array(USCC_WEIGHTS, dtype=np.int64)
_ORG_W = np.array(ORG_WEIGHTS, dtype=np.int64)
_ID_W = np.array(ID_WEIGHTS, dtype=np.int64)
_USCC_CHARS = np.array(list(USCC_ALPHABET))
_ID_CHARS = np.array(list(ID_CHECK))
_USCC_CP = np.array([ord(c) for c in USCC_ALPHABET], dtype=np.uint32)
_ID_CP = np.array([ord(c) for c in ID_CHECK], dtype=np.uint32)

# code point → value lookups (-1 = not in the alphabet)
_USCC_LUT = np.full(0x110000, -1, dtype=np.int8)
for _i, _c in enumerate(USCC_ALPHABET):
    _USCC_LUT[ord(_c)] = _i
_ORG_LUT = np.full(0x110000, -1, dtype=np.int8)
for _i, _c in enumerate(ORG_ALPHABET):
    _ORG_LUT[ord(_c)] = _i


# --------------------------------------------------------------------------- helpers
def _chars(codes, length: int) -> np.ndarray:
    """``(n,)`` unicode codes → ``(n, length)`` code points (0 where shorter)."""
    arr = np.ascontiguousarray(np.asarray(codes, dtype=f"<U{length}"))
    return arr.view(np.uint32).reshape(len(arr), length)


def _join(cp: np.ndarray) -> np.ndarray:
    """``(n, k)`` code points → ``(n,)`` ``<Uk`` strings (a view, no copy per code)."""
    cp = np.ascontiguousarray(cp.astype(np.uint32))
    return cp.view(f"<U{cp.shape[1]}").reshape(cp.shape[0])


def _cp_matrix(values, width: int, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """A scalar, a pool (drawn per row) or one value per row (a numpy array of length
    ``n``) → ``(n, width)`` code points."""
    if isinstance(values, str):
        arr = np.full(n, values, dtype=f"<U{width}")
    else:
        arr = np.asarray(values, dtype=f"<U{width}")
        if not (isinstance(values, np.ndarray) and arr.shape == (n,)):
            if rng is None:
                raise ValueError("drawing from a pool needs an rng")
            arr = arr[rng.integers(0, len(arr), n)]
    return np.ascontiguousarray(arr).view(np.uint32).reshape(n, width)


def ascii_series(codes, name: str = ""):
    """numpy unicode array with ASCII content → polars String series via Arrow buffers
    (much faster than polars' generic conversion of numpy strings)."""
    import polars as pl
    import pyarrow as pa

    arr = np.ascontiguousarray(np.asarray(codes, dtype=str))
    n = len(arr)
    width = arr.dtype.itemsize // 4
    if n == 0 or width == 0:
        return pl.Series(name, [""] * n, dtype=pl.String)
    cp = arr.view(np.uint32).reshape(n, width)
    if (cp > 127).any():
        return pl.Series(name, arr.tolist(), dtype=pl.String)
    keep = cp != 0
    data = cp[keep].astype(np.uint8)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(keep.sum(axis=1), out=offsets[1:])
    pa_arr = pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data.tobytes())]
    )
    return pl.Series(name, pl.from_arrow(pa_arr)).cast(pl.String)


# --------------------------------------------------------------------------- GB 11714
def _org_check_cp(vals: np.ndarray) -> np.ndarray:
    """``(n, 8)`` body values (0..35) → check code points."""
    c = 11 - (vals.astype(np.int64) * _ORG_W).sum(axis=1) % 11
    return np.where(c == 10, ord("X"), np.where(c == 11, ord("0"), ord("0") + c)).astype(np.uint32)


def org_check_chars(bodies) -> np.ndarray:
    """Check character for 8-char GB 11714 bodies (full 36-letter alphabet)."""
    return _join(_org_check_cp(_ORG_LUT[_chars(bodies, 8)])[:, None])


def _org_matrix(rng: np.random.Generator, n: int, letter_share: float) -> np.ndarray:
    digits = rng.integers(0, 10, size=(n, 8))
    letters = rng.integers(0, 31, size=(n, 8))
    use_letters = rng.random(n) < letter_share
    body = _USCC_CP[np.where(use_letters[:, None], letters, digits)]
    body[use_letters, 0] = ord("M")  # the "MA…" bodies issued since 2015
    body[use_letters, 1] = ord("A")
    check = _org_check_cp(_ORG_LUT[body])
    return np.concatenate([body, check[:, None]], axis=1)


def make_org_codes(rng: np.random.Generator, n: int, letter_share: float = 0.3) -> np.ndarray:
    """Valid 组织机构代码 (9 chars, no hyphen). Bodies use only characters of the USCC
    alphabet so the code can sit in positions 9–17 of a USCC: mostly 8 digits, some
    of the ``MA…`` form."""
    return _join(_org_matrix(rng, n, letter_share))


def org_code_valid(codes) -> np.ndarray:
    """GB 11714 check over 9-char codes (``XXXXXXXX-X`` accepted)."""
    arr = np.char.replace(np.asarray(codes, dtype=str), "-", "")
    ok_len = np.char.str_len(arr) == 9
    cp = _chars(arr, 9)
    vals = _ORG_LUT[cp]
    ok_alpha = (vals[:, :8] >= 0).all(axis=1)
    expected = _org_check_cp(np.maximum(vals[:, :8], 0))
    return ok_len & ok_alpha & (cp[:, 8] == expected)


# --------------------------------------------------------------------------- USCC
def uscc_check_chars(first17) -> np.ndarray:
    vals = _USCC_LUT[_chars(first17, 17)].astype(np.int64)
    return _USCC_CHARS[(31 - (vals * _USCC_W).sum(axis=1) % 31) % 31]


def make_usccs(rng: np.random.Generator, n: int, prefixes, regions, *, org_codes=None) -> np.ndarray:
    """``n`` valid USCCs (outer and inner checks). ``prefixes`` / ``regions``: a single
    value, a pool to draw from uniformly, or — as numpy arrays of length ``n`` — one
    value per code. ``org_codes`` (positions 9–17) are generated when not given."""
    pre = _cp_matrix(prefixes, 2, n, rng)
    if n:
        pairs = np.unique(pre[:, 0].astype(np.int64) * 0x110000 + pre[:, 1])
        bad = {chr(p // 0x110000) + chr(p % 0x110000) for p in pairs.tolist()} - USCC_PREFIXES
        if bad:
            raise ValueError(f"invalid USCC prefixes {sorted(bad)}")
    reg = _cp_matrix(regions, 6, n, rng)
    org = _org_matrix(rng, n, 0.3) if org_codes is None else _cp_matrix(org_codes, 9, n)
    m = np.concatenate([pre, reg, org], axis=1)
    s = (_USCC_LUT[m].astype(np.int64) * _USCC_W).sum(axis=1) % 31
    check = _USCC_CP[(31 - s) % 31]
    return _join(np.concatenate([m, check[:, None]], axis=1))


def uscc_valid(codes, *, inner: bool = True) -> np.ndarray:
    """Length, alphabet, prefix pair, outer mod-31 check (and the inner GB 11714 check)."""
    arr = np.asarray(codes, dtype=str)
    ok_len = np.char.str_len(arr) == 18
    cp = _chars(arr, 18)
    vals = _USCC_LUT[cp].astype(np.int64)
    ok_alpha = (vals >= 0).all(axis=1)
    ok_prefix = np.isin(_join(cp[:, :2]), np.array(sorted(USCC_PREFIXES)))
    s = (np.maximum(vals[:, :17], 0) * _USCC_W).sum(axis=1) % 31
    ok = ok_len & ok_alpha & ok_prefix & (vals[:, 17] == (31 - s) % 31)
    if inner:
        ok &= org_code_valid(_join(cp[:, 8:17]))
    return ok


# --------------------------------------------------------------------------- 工商注册号
def _mod11_10(d: np.ndarray) -> np.ndarray:
    """ISO 7064 MOD 11,10 check digit over an ``(n, 14)`` digit matrix."""
    p = np.full(len(d), 10, dtype=np.int64)
    for i in range(d.shape[1]):  # loop over positions, vectorised over codes
        s = (p + d[:, i]) % 10
        s = np.where(s == 0, 10, s)
        p = (2 * s) % 11
    return (11 - p) % 10


def make_reg_nos(rng: np.random.Generator, n: int, regions) -> np.ndarray:
    """Legacy 15-digit 注册号: region (6) + sequence (8) + MOD 11,10 check."""
    reg = _cp_matrix(regions, 6, n, rng).astype(np.int64) - ord("0")
    d = np.concatenate([reg, rng.integers(0, 10, size=(n, 8))], axis=1)
    full = np.concatenate([d, _mod11_10(d)[:, None]], axis=1)
    return _join(full + ord("0"))


def reg_no_valid(codes) -> np.ndarray:
    arr = np.asarray(codes, dtype=str)
    ok = (np.char.str_len(arr) == 15) & np.char.isdigit(arr)
    cp = _chars(np.where(ok, arr, "0" * 15), 15).astype(np.int64) - ord("0")
    return ok & (cp[:, 14] == _mod11_10(cp[:, :14]))


# --------------------------------------------------------------------------- 身份证号
def id_check_chars(first17) -> np.ndarray:
    d = _chars(first17, 17).astype(np.int64) - ord("0")
    return _ID_CHARS[(d * _ID_W).sum(axis=1) % 11]


def make_id_numbers(
    rng: np.random.Generator,
    n: int,
    regions,
    *,
    born_from: str = "1950-01-01",
    born_to: str = "2004-12-31",
    births=None,
) -> np.ndarray:
    """Valid 18-char 居民身份证号 with real birth dates (uniform in the range unless
    ``births`` — datetime64[D], one per row — is given)."""
    reg = _cp_matrix(regions, 6, n, rng).astype(np.int64) - ord("0")
    if births is None:
        lo = np.datetime64(born_from, "D").astype(np.int64)
        hi = np.datetime64(born_to, "D").astype(np.int64)
        births = rng.integers(lo, hi + 1, n).astype("datetime64[D]")
    births = np.asarray(births).astype("datetime64[D]")
    y = births.astype("datetime64[Y]").astype(np.int64) + 1970
    mo = births.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dd = (births - births.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    seq = rng.integers(1, 1000, n)
    cols = [y // 1000, y // 100 % 10, y // 10 % 10, y % 10, mo // 10, mo % 10, dd // 10, dd % 10,
            seq // 100, seq // 10 % 10, seq % 10]
    d = np.concatenate([reg, np.column_stack(cols)], axis=1)
    check = _ID_CP[(d * _ID_W).sum(axis=1) % 11]
    return _join(np.concatenate([d + ord("0"), check[:, None]], axis=1))


def id_number_valid(codes) -> np.ndarray:
    arr = np.asarray(codes, dtype=str)
    cp = _chars(arr, 18)
    ok = (np.char.str_len(arr) == 18) & ((cp[:, :17] >= ord("0")) & (cp[:, :17] <= ord("9"))).all(axis=1)
    d = np.where(ok[:, None], cp[:, :17].astype(np.int64) - ord("0"), 0)
    ok &= cp[:, 17] == _ID_CP[(d * _ID_W).sum(axis=1) % 11]
    y = d[:, 6] * 1000 + d[:, 7] * 100 + d[:, 8] * 10 + d[:, 9]
    m = d[:, 10] * 10 + d[:, 11]
    dd = d[:, 12] * 10 + d[:, 13]
    good = (y >= 1800) & (m >= 1) & (m <= 12) & (dd >= 1)
    month = np.datetime64("1970-01", "M") + ((np.where(good, y, 2000) - 1970) * 12 + np.where(good, m, 1) - 1)
    days_in_month = ((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")).astype(np.int64)
    return ok & good & (dd <= days_in_month)


__all__ = [
    "ascii_series",
    "id_check_chars",
    "id_number_valid",
    "make_id_numbers",
    "make_org_codes",
    "make_reg_nos",
    "make_usccs",
    "org_check_chars",
    "org_code_valid",
    "reg_no_valid",
    "uscc_check_chars",
    "uscc_valid",
]
