"""Safe cells: formula injection neutralised, ID numbers masked, USCCs left alone."""

from __future__ import annotations

import polars as pl
import pytest
from deliver_fixture import PERSON_ID, id_number

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
