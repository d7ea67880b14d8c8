"""Generators of valid and corrupted identifiers for the code-governance tests."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import strategies as st

from pipelines.codes.constants import ORG_ALPHABET, USCC_ALPHABET, USCC_PREFIXES
from pipelines.codes.validators import (
    id_check_char,
    org_code_check_char,
    reg_no_check_digit,
    uscc_check_char,
)

PREFIXES = sorted(USCC_PREFIXES)
NUMERIC_PREFIXES = [p for p in PREFIXES if p[0].isdigit()]
DIGITS = "0123456789"


def make_uscc(prefix: str, region: str, body: str) -> str:
    first17 = prefix + region + body + org_code_check_char(body)
    return first17 + uscc_check_char(first17)


def make_org(body: str) -> str:
    return body + org_code_check_char(body)


def make_reg_no(first14: str) -> str:
    return first14 + reg_no_check_digit(first14)


def make_id(region: str, birth: dt.date, seq: str) -> str:
    first17 = region + birth.strftime("%Y%m%d") + seq
    return first17 + id_check_char(first17)


def random_uscc(rng: random.Random, prefixes: list[str] = PREFIXES) -> str:
    body = "".join(rng.choice(USCC_ALPHABET) for _ in range(8))
    region = "".join(rng.choice(DIGITS) for _ in range(6))
    return make_uscc(rng.choice(prefixes), region, body)


def random_id(rng: random.Random) -> str:
    birth = dt.date(1900, 1, 1) + dt.timedelta(days=rng.randrange(0, 45000))
    region = "".join(rng.choice(DIGITS) for _ in range(6))
    return make_id(region, birth, "".join(rng.choice(DIGITS) for _ in range(3)))


def corrupt(rng: random.Random, code: str, alphabet: str) -> str:
    """Replace one character by another one of the alphabet."""
    i = rng.randrange(len(code))
    c = rng.choice([a for a in alphabet if a != code[i]])
    return code[:i] + c + code[i + 1:]


usccs = st.builds(
    make_uscc,
    st.sampled_from(PREFIXES),
    st.text(DIGITS, min_size=6, max_size=6),
    st.text(USCC_ALPHABET, min_size=8, max_size=8),
)
org_codes = st.builds(make_org, st.text(ORG_ALPHABET, min_size=8, max_size=8))
reg_nos = st.builds(make_reg_no, st.text(DIGITS, min_size=14, max_size=14))
id_nos = st.builds(
    make_id,
    st.text(DIGITS, min_size=6, max_size=6),
    st.dates(dt.date(1900, 1, 1), dt.date(2030, 12, 31)),
    st.text(DIGITS, min_size=3, max_size=3),
)
