"""Scalar validators: codes.md worked examples and python-stdnum test vectors."""

from __future__ import annotations

import pytest

from pipelines.codes.validators import (
    check_code,
    check_id_no,
    check_industry_code,
    check_org_code,
    check_reg_no,
    check_region_code,
    check_uscc,
    id_check_char,
    normalize_code,
    org_code_check_char,
    reg_no_check_digit,
    uscc_check_char,
)

STDNUM_VALID = [
    "91110000600037341L", "121200004013590816", "91110000710926094P",
    "91120224064012553U", "9115220107837757XE", "91310115MA1K3BTP2B",
    "9144030071526726XG", "91310000631696382C", "92340602MA2PBMEM24",
    "91620105L015101280", "91340603MA2UJXXCXF", "91350100M000100Y43",
]
STDNUM_INVALID = {
    "A1110000600037341L": "bad_check",  # A1 is a valid pair (codes.md); the check fails
    "12345": "bad_length",
    "9111000060003IOZSV": "bad_alphabet",
    "91110000600037341N": "bad_check",
}


@pytest.mark.parametrize("code", STDNUM_VALID)
def test_stdnum_valid_vectors(code):
    v = check_uscc(code)
    assert v.valid and v.kind == "uscc" and v.normalized == code


@pytest.mark.parametrize(("code", "status"), STDNUM_INVALID.items())
def test_stdnum_invalid_vectors(code, status):
    v = check_uscc(code)
    assert not v.valid
    assert v.status == status
    assert v.reasons and all(isinstance(r, str) for r in v.reasons)


def test_worked_examples():
    assert uscc_check_char("91350100M000100Y4") == "3"
    assert org_code_check_char("M000100Y") == "4"
    assert reg_no_check_digit("32100040001259") == "1"
    assert check_reg_no("321000400012591").status == "valid"
    assert check_id_no("360426199101010071").valid
    assert check_id_no("44011320141005001X").valid
    assert id_check_char("36042619910101007") == "1"


def test_check_reason_is_chinese_and_names_both_chars():
    v = check_uscc("91350100M000100Y4N")
    assert v.status == "bad_check"
    assert v.reasons == ["校验码错误：应为 3，实为 N"]


def test_suspicious_inner_check():
    # Change the inner check (pos 17) and recompute the outer one.
    first17 = "91350100M000100Y" + "5"
    code = first17 + uscc_check_char(first17)
    v = check_uscc(code)
    assert v.status == "suspicious" and v.valid
    assert "主体标识码" in v.reasons[0]


def test_bad_prefix():
    first17 = "22350100M000100Y4"
    v = check_uscc(first17 + uscc_check_char(first17))
    assert v.status == "bad_prefix" and not v.valid


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        (" 9135-0100m000100y43 ", "91350100M000100Y43"),
        ("９１３５０１００Ｍ０００１００Ｙ４３", "91350100M000100Y43"),
        ("M000100Y-4", "M000100Y4"),
        ("\u3000abc\u2014d\u00a0e\t", "ABCDE"),
        ("", ""),
    ],
)
def test_normalize(raw, norm):
    assert normalize_code(raw) == norm
    assert normalize_code(norm) == norm
    assert normalize_code(None) is None


def test_id_date_must_be_real():
    first17 = "36042619910230007"  # 30 February
    v = check_id_no(first17 + id_check_char(first17))
    assert v.status == "bad_date" and not v.valid
    leap = "36042620000229007"
    assert check_id_no(leap + id_check_char(leap)).valid


def test_org_code_and_legacy():
    assert check_org_code("M000100Y-4").valid
    assert check_org_code("M000100Y5").status == "bad_check"
    assert check_org_code("M000100Y").status == "bad_length"


@pytest.mark.parametrize(
    ("code", "kind", "valid"),
    [
        ("91350100M000100Y43", "uscc", True),
        ("M000100Y-4", "org_code", True),
        ("321000400012591", "reg_no", True),
        ("360426199101010071", "id_no", True),
        ("360426199101010072", "id_no", False),
        ("91350100M000100Y4N", "uscc", False),
        ("12345", "unknown", False),
        ("", "unknown", False),
    ],
)
def test_check_code_detects_kind(code, kind, valid):
    v = check_code(code)
    assert (v.kind, v.valid) == (kind, valid)
    assert v.explain()


def test_region_and_industry():
    assert check_region_code("350100") and check_region_code("100000")
    assert not check_region_code("990100") and not check_region_code("35010")
    assert check_industry_code("C") and check_industry_code("C13") and check_industry_code("c1311")
    assert not check_industry_code("U13") and not check_industry_code("C1") and not check_industry_code("13")
