"""Safe cells: formula injection neutralised, ID numbers masked, USCCs left alone."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from deliver_fixture import PERSON_ID, id_number
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.deliver.safe import is_id_number, mask_ids, neutralise, safe_frame, safe_text


@pytest.mark.parametrize("text", ["=1+1", "+86", "-5", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("u")'])
def test_formula_starts_are_neutralised(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["公司", "1+1", "a=b", "'=x", "", "（=）"])
def test_ordinary_text_is_unchanged(text):
    assert neutralise(text) == text


def test_id_numbers_are_masked_anywhere_in_a_cell():
    assert is_id_number(PERSON_ID)
    assert mask_ids(PERSON_ID) == PERSON_ID[:4] + "*" * 10 + PERSON_ID[-4:]
    assert mask_ids(f"张三{PERSON_ID}，住址") == f"张三{PERSON_ID[:4]}**********{PERSON_ID[-4:]}，住址"
    x_id = next(i for i in (id_number(f"13010219850101{n:03d}") for n in range(1000)) if i.endswith("X"))
    assert mask_ids(x_id.lower()).endswith(x_id.lower()[-4:]) and "*" in mask_ids(x_id.lower())


def test_uscc_and_invalid_ids_are_not_masked():
    for s in ("91130100MA0000500X", "911301001234567890", PERSON_ID[:17] + ("0" if PERSON_ID[17] != "0" else "1"),
              "110101199013070011"):   # month 13
        assert mask_ids(s) == s


def test_safe_frame_touches_only_text_columns():
    df = pl.DataFrame({"name": ["=cmd", f"x{PERSON_ID}", None], "score": [-1.5, 2.0, None]})
    out = safe_frame(df)
    assert out["name"].to_list() == ["'=cmd", f"x{PERSON_ID[:4]}**********{PERSON_ID[-4:]}", None]
    assert out["score"].to_list() == [-1.5, 2.0, None]
    assert safe_text(None) is None


_DIGITS = "0123456789０１２３"


def _widen(text: str, wide: bool) -> str:
    """Full-width digits (as some exports have them) when ``wide``."""
    return text.translate({ord(c): 0xFF10 + int(c) for c in "0123456789"}) if wide else text


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(
    st.none(),
    st.text(alphabet=_DIGITS + "Xx=+-@ 公司\t", max_size=40),
    st.builds(lambda pre, birth, seq, wide, post:
              f"{pre}{_widen(id_number('130102' + birth + seq), wide)}{post}",
              st.text(alphabet="0a张= ", max_size=3),
              st.dates(dt.date(1900, 1, 1), dt.date(2025, 12, 31)).map(lambda d: d.strftime("%Y%m%d")),
              st.integers(0, 999).map(lambda n: f"{n:03d}"),
              st.booleans(),
              st.text(alphabet="0a，X", max_size=3)),
), min_size=1, max_size=20))
def test_safe_frame_equals_the_cell_by_cell_rule(cells):
    """The vectorised frame (pre-filter, then the exact check on candidates only) gives
    what safe_text gives cell by cell: valid ID numbers anywhere, full-width digits, USCCs."""
    out = safe_frame(pl.DataFrame({"c": cells}, schema={"c": pl.Utf8}))
    assert out["c"].to_list() == [safe_text(c) for c in cells]
