"""python-stdnum as an independent oracle on large random samples (prefixes 1–9 only:
stdnum rejects A/N/Y prefixes and skips the inner GB 11714 check)."""

from __future__ import annotations

import random

import polars as pl
import pytest
from codes_testgen import (
    DIGITS,
    NUMERIC_PREFIXES,
    PREFIXES,
    corrupt,
    make_uscc,
    random_id,
    random_uscc,
)
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

from pipelines.codes.constants import USCC_ALPHABET
from pipelines.codes.expr import id_no_is_valid_expr, uscc_is_valid_expr, uscc_status_expr
from pipelines.codes.validators import check_id_no, check_uscc, uscc_check_char

N = 20_000


def _sample(rng: random.Random) -> list[str]:
    valid = [random_uscc(rng, NUMERIC_PREFIXES) for _ in range(N // 2)]
    broken = [corrupt(rng, random_uscc(rng, NUMERIC_PREFIXES), USCC_ALPHABET) for _ in range(N // 2)]
    return valid + broken


def test_uscc_agrees_with_stdnum_on_random_sample():
    rng = random.Random(20261103)
    codes = _sample(rng)
    oracle = [uscc.is_valid(c) for c in codes]
    ours = [check_uscc(c).valid for c in codes]
    assert ours == oracle
    expr = pl.DataFrame({"c": codes}).select(uscc_is_valid_expr(pl.col("c")))["c"].to_list()
    assert expr == oracle
    assert sum(oracle) == N // 2  # a single substitution always breaks the check


def test_we_accept_valid_letter_prefixes_that_stdnum_rejects():
    rng = random.Random(7)
    letter = [p for p in PREFIXES if not p[0].isdigit()]
    assert set(letter) == {"A1", "A9", "N1", "N2", "N3", "N9", "Y1"}
    codes = [random_uscc(rng, [p]) for p in letter for _ in range(50)]
    assert all(check_uscc(c).status == "valid" for c in codes)
    assert not any(uscc.is_valid(c) for c in codes)
    statuses = pl.DataFrame({"c": codes}).select(uscc_status_expr(pl.col("c")))["c"].unique().to_list()
    assert statuses == ["valid"]


def test_inner_check_is_ours_only():
    """Codes whose outer check holds but inner check fails: stdnum says valid, we flag."""
    rng = random.Random(11)
    n = 0
    for _ in range(500):
        body = "".join(rng.choice(USCC_ALPHABET) for _ in range(8))
        code = make_uscc(rng.choice(NUMERIC_PREFIXES), "350100", body)
        first16 = code[:16]
        wrong = next(c for c in "0123456789X" if c != code[16])
        first17 = first16 + wrong
        bad_inner = first17 + uscc_check_char(first17)
        v = check_uscc(bad_inner)
        assert uscc.is_valid(bad_inner)
        assert v.status == "suspicious" and v.valid
        n += 1
    assert n == 500


def _ric_oracle(code: str) -> bool:
    """stdnum's checksum and birth-date rules (its birth-place table is not ours)."""
    try:
        n = ric.compact(code)
        if len(n) != 18 or not n[:17].isdigit():
            return False
        if ric.calc_check_digit(n) != n[-1]:
            return False
        ric.get_birth_date(n)
    except (ValidationError, ValueError):
        return False
    return True


def test_id_no_agrees_with_stdnum_on_random_sample():
    rng = random.Random(99)
    valid = [random_id(rng) for _ in range(N // 4)]
    broken = [corrupt(rng, random_id(rng), DIGITS) for _ in range(N // 4)]
    codes = valid + broken
    oracle = [_ric_oracle(c) for c in codes]
    assert [check_id_no(c).valid for c in codes] == oracle
    expr = pl.DataFrame({"c": codes}).select(id_no_is_valid_expr(pl.col("c")))["c"].to_list()
    assert expr == oracle
    assert all(oracle[: N // 4])


@pytest.mark.parametrize("code", ["360426199101010071", "44011320141005001X"])
def test_spec_ids_pass_stdnum_in_full(code):
    assert ric.is_valid(code) and check_id_no(code).valid
