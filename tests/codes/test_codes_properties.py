"""Hypothesis properties: generated valid codes validate, single substitutions fail,
normalisation is idempotent, scalar and polars twins agree on arbitrary strings."""

from __future__ import annotations

import polars as pl
from codes_testgen import id_nos, org_codes, reg_nos, usccs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.codes.constants import USCC_ALPHABET
from pipelines.codes.expr import (
    id_no_is_valid_expr,
    industry_code_is_valid_expr,
    normalize_code_expr,
    org_code_is_valid_expr,
    reg_no_is_valid_expr,
    region_code_is_valid_expr,
    uscc_status_expr,
)
from pipelines.codes.privacy import mask_id, mask_id_expr
from pipelines.codes.validators import (
    check_id_no,
    check_industry_code,
    check_org_code,
    check_reg_no,
    check_region_code,
    check_uscc,
    normalize_code,
)

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Strings that exercise every branch: code characters, look-alikes, lower case,
# full-width forms, white space of all kinds, dashes, and arbitrary unicode.
_CODE_CHARS = USCC_ALPHABET + "IOZSVabcxyz-_ \t\u3000\u00a0\u2014\u200b\ufeffＡＢ０１９－ｍ"
code_like = st.one_of(
    st.text(_CODE_CHARS, max_size=22),
    st.text(max_size=20),
    usccs, org_codes, reg_nos, id_nos,
    usccs.map(lambda c: " " + c.lower()[:9] + "-" + c[9:] + "\u3000"),
)


def _frame(values: list[str | None]) -> pl.DataFrame:
    return pl.DataFrame({"c": values}, schema={"c": pl.String})


@FAST
@given(st.lists(usccs, min_size=1, max_size=20))
def test_generated_usccs_validate(codes):
    assert all(check_uscc(c).status == "valid" for c in codes)
    assert _frame(codes).select(uscc_status_expr(pl.col("c")))["c"].to_list() == ["valid"] * len(codes)


@FAST
@given(st.lists(org_codes, max_size=10), st.lists(reg_nos, max_size=10), st.lists(id_nos, max_size=10))
def test_generated_legacy_and_ids_validate(orgs, regs, ids):
    assert all(check_org_code(c).valid for c in orgs)
    assert all(check_reg_no(c).valid for c in regs)
    assert all(check_id_no(c).valid for c in ids)
    df = pl.DataFrame({"o": orgs}, schema={"o": pl.String})
    assert df.select(org_code_is_valid_expr(pl.col("o")))["o"].to_list() == [True] * len(orgs)
    df = pl.DataFrame({"r": regs}, schema={"r": pl.String})
    assert df.select(reg_no_is_valid_expr(pl.col("r")))["r"].to_list() == [True] * len(regs)
    df = pl.DataFrame({"i": ids}, schema={"i": pl.String})
    assert df.select(id_no_is_valid_expr(pl.col("i")))["i"].to_list() == [True] * len(ids)


@settings(max_examples=25, deadline=None)
@given(usccs)
def test_every_single_substitution_fails_outer_check(code):
    variants = [
        code[:i] + c + code[i + 1:]
        for i in range(len(code))
        for c in USCC_ALPHABET
        if c != code[i]
    ]
    statuses = _frame(variants).select(uscc_status_expr(pl.col("c")))["c"].to_list()
    assert not any(s in ("valid", "suspicious") for s in statuses)
    assert all(not check_uscc(v).valid for v in variants[::7])


@FAST
@given(st.lists(code_like, max_size=30))
def test_normalisation_idempotent_and_twins_agree(values):
    norm = [normalize_code(v) for v in values]
    assert [normalize_code(n) for n in norm] == norm
    assert _frame(values).select(normalize_code_expr(pl.col("c")))["c"].to_list() == norm


@FAST
@given(st.lists(st.one_of(st.none(), code_like), max_size=30))
def test_scalar_and_expressions_agree(values):
    df = _frame(values).select(
        uscc=uscc_status_expr(pl.col("c")),
        org=org_code_is_valid_expr(pl.col("c")),
        reg=reg_no_is_valid_expr(pl.col("c")),
        id=id_no_is_valid_expr(pl.col("c")),
        region=region_code_is_valid_expr(pl.col("c")),
        industry=industry_code_is_valid_expr(pl.col("c")),
        mask=mask_id_expr(pl.col("c")),
    )
    for v, row in zip(values, df.iter_rows(named=True), strict=True):
        if v is None:
            assert all(x is None for x in row.values())
            continue
        assert row["uscc"] == check_uscc(v).status or (row["uscc"] == "bad_length" and check_uscc(v).status == "empty")
        assert row["org"] == check_org_code(v).valid
        assert row["reg"] == check_reg_no(v).valid
        assert row["id"] == check_id_no(v).valid
        assert row["region"] == check_region_code(v)
        assert row["industry"] == check_industry_code(v)
        assert row["mask"] == mask_id(v)
