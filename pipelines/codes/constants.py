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
