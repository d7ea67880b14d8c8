from __future__ import annotations

import io

from pipelines.codes.cli import main_check_code


def test_all_valid_exit_zero():
    out = io.StringIO()
    assert main_check_code(["91350100M000100Y43", "M000100Y-4", "321000400012591"], out) == 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("91350100M000100Y43\t统一社会信用代码\t有效")
    assert "组织机构代码" in lines[1] and "工商注册号" in lines[2]


def test_invalid_exit_one_with_reason():
    out = io.StringIO()
    assert main_check_code(["91350100M000100Y43", "91350100M000100Y4N"], out) == 1
    assert "校验码错误：应为 3，实为 N" in out.getvalue().splitlines()[1]


def test_id_numbers_are_masked():
    out = io.StringIO()
    assert main_check_code(["360426199101010071"], out) == 0
    text = out.getvalue()
    assert "360426199101010071" not in text and "3604**********0071" in text


def test_no_codes_is_failure():
    assert main_check_code([], io.StringIO()) == 1
