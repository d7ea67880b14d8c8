"""Identifier constants (codes.md). One place; validators and generators both use it."""

from __future__ import annotations

# GB 32100-2015: 31 characters, no I O Z S V.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
# 3^(i-1) mod 31 for positions 1..17
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
USCC_PREFIXES = frozenset(
    "11 12 13 19 21 29 31 32 33 34 35 39 41 49 51 52 53 59 61 62 69 71 72 79 81 89 91 92 93 "
    "A1 A9 N1 N2 N3 N9 Y1".split()
)
# GB 11714 (组织机构代码) body: 0-9, A=10 .. Z=35 over the full 36-letter alphabet.
ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ORG_VALUE = {c: i for i, c in enumerate(ORG_ALPHABET)}
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
# GB 11643 (居民身份证号), ISO 7064 MOD 11-2.
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
# Look-alike characters seen in hand-typed codes (letter → digit / allowed letter).
LOOKALIKES = {"O": "0", "I": "1", "Z": "2", "S": "5", "V": "U"}

# --- added by code governance (validators / expressions) ---------------------------
# Characters removed by code normalisation besides white space (codes.md: hyphens);
# typographic dashes are what Word and Excel turn a typed '-' into.
CODE_HYPHENS = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
# White space removed by code normalisation: an explicit list so that the scalar
# function, the polars expression and the DuckDB SQL agree character for character.
CODE_WHITESPACE = (
    " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
# 组织机构代码 check character alphabet (C9 = 11 - Σ mod 11; 10 → X, 11 → 0).
ORG_CHECK = "0123456789X"
# ISO 7064 MOD 11,10 (工商注册号): 15 digits.
REG_NO_LENGTH = 15
USCC_LENGTH = 18
ORG_CODE_LENGTH = 9
ID_LENGTH = 18
# GB/T 2260 province-level codes (first two digits of a region code).
PROVINCE_CODES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82".split()
)
# Region code used in USCC positions 3–8 for national registration authorities.
NATIONAL_REGION_CODE = "100000"
# GB/T 4754 (国民经济行业分类): section letter, optionally 2–4 digits (大类/中类/小类).
INDUSTRY_CODE_PATTERN = r"^[A-T](?:[0-9]{2}|[0-9]{3}|[0-9]{4})?$"
# Birth dates in ID numbers: a real calendar date in this year range.
ID_BIRTH_YEAR_MIN = 1800
ID_BIRTH_YEAR_MAX = 2099
