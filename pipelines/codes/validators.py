"""Scalar identifier validators (codes.md): USCC, 组织机构代码, 工商注册号, 居民身份证号.

Every check returns a :class:`Verdict` whose ``reasons`` explain, in Chinese, what is
wrong (``校验码错误：应为 3，实为 N``). The vectorised twins live in
:mod:`pipelines.codes.expr`; tests assert the two never disagree.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field

from ..textnorm import to_half_width
from .constants import (
    CODE_HYPHENS,
    CODE_WHITESPACE,
    ID_BIRTH_YEAR_MAX,
    ID_BIRTH_YEAR_MIN,
    ID_CHECK,
    ID_LENGTH,
    ID_WEIGHTS,
    INDUSTRY_CODE_PATTERN,
    NATIONAL_REGION_CODE,
    ORG_ALPHABET,
    ORG_CHECK,
    ORG_CODE_LENGTH,
    ORG_VALUE,
    ORG_WEIGHTS,
    PROVINCE_CODES,
    REG_NO_LENGTH,
    USCC_ALPHABET,
    USCC_LENGTH,
    USCC_PREFIXES,
    USCC_VALUE,
    USCC_WEIGHTS,
)

# Kinds (Verdict.kind)
USCC = "uscc"
ORG_CODE = "org_code"
REG_NO = "reg_no"
ID_NO = "id_no"
UNKNOWN = "unknown"

KIND_LABELS = {
    USCC: "统一社会信用代码",
    ORG_CODE: "组织机构代码",
    REG_NO: "工商注册号",
    ID_NO: "居民身份证号",
    UNKNOWN: "未知代码",
}

# Statuses (Verdict.status)
VALID = "valid"
SUSPICIOUS = "suspicious"
BAD_LENGTH = "bad_length"
BAD_ALPHABET = "bad_alphabet"
BAD_PREFIX = "bad_prefix"
BAD_CHECK = "bad_check"
BAD_DATE = "bad_date"
EMPTY = "empty"

STATUS_LABELS = {
    VALID: "有效",
    SUSPICIOUS: "存疑（外层校验通过，主体标识码校验未通过）",
    BAD_LENGTH: "长度错误",
    BAD_ALPHABET: "含非法字符",
    BAD_PREFIX: "登记管理部门码/机构类别码无效",
    BAD_CHECK: "校验码错误",
    BAD_DATE: "出生日期无效",
    EMPTY: "为空",
}

_REMOVE = set(CODE_WHITESPACE + CODE_HYPHENS)
_DIGITS = "0123456789"
_INDUSTRY_RE = re.compile(INDUSTRY_CODE_PATTERN)


def _norm_char(c: str) -> str:
    h = to_half_width(c)
    out = []
    for ch in h:
        if ch in _REMOVE:
            continue
        if "a" <= ch <= "z":
            ch = ch.upper()
        out.append(ch)
    return "".join(out)


def code_char_map(chars: str) -> dict[str, str]:
    """The per-character normalisation as a table (used to build the SQL twin)."""
    return {c: _norm_char(c) for c in chars}


def normalize_code(s: str | None) -> str | None:
    """Trim, drop white space and hyphens, full-width → half-width, ASCII upper-case.

    Character by character (so the polars and SQL twins can be exact), idempotent.
    ``None`` stays ``None``; an empty result is ``""``.
    """
    if s is None:
        return None
    h = to_half_width(s)
    return "".join(
        ch.upper() if "a" <= ch <= "z" else ch for ch in h if ch not in _REMOVE
    )


@dataclass(frozen=True)
class Verdict:
    kind: str
    normalized: str
    status: str
    valid: bool
    reasons: list[str] = field(default_factory=list)

    def explain(self) -> str:
        """One Chinese sentence: the verdict and why."""
        label = KIND_LABELS.get(self.kind, self.kind)
        why = "；".join(self.reasons) if self.reasons else STATUS_LABELS.get(self.status, self.status)
        return f"{label}：{why}"


# ---------------------------------------------------------------- check characters


def uscc_check_char(first17: str) -> str:
    """GB 32100 check character for the first 17 characters."""
    if len(first17) != USCC_LENGTH - 1 or any(c not in USCC_VALUE for c in first17):
        raise ValueError(f"需要17位统一社会信用代码字符，得到 {first17!r}")
    total = sum(USCC_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def org_code_check_char(body8: str) -> str:
    """GB 11714 check character for an 8-character body (0–9, A=10 … Z=35)."""
    if len(body8) != ORG_CODE_LENGTH - 1 or any(c not in ORG_VALUE for c in body8):
        raise ValueError(f"需要8位组织机构代码本体（数字或大写字母），得到 {body8!r}")
    total = sum(ORG_VALUE[c] * w for c, w in zip(body8, ORG_WEIGHTS, strict=True))
    return ORG_CHECK[(11 - total % 11) % 11]


def reg_no_check_digit(first14: str) -> str:
    """ISO 7064 MOD 11,10 check digit of a 工商注册号."""
    if len(first14) != REG_NO_LENGTH - 1 or any(c not in _DIGITS for c in first14):
        raise ValueError(f"需要14位数字，得到 {first14!r}")
    p = 10
    for c in first14:
        s = (p + int(c)) % 10
        s = 10 if s == 0 else s
        p = (2 * s) % 11
    return str((11 - p) % 10)


def id_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a 居民身份证号."""
    if len(first17) != ID_LENGTH - 1 or any(c not in _DIGITS for c in first17):
        raise ValueError(f"需要17位数字，得到 {first17!r}")
    total = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]


# ---------------------------------------------------------------- verdicts


def _bad_chars(s: str, allowed: str) -> str:
    seen: list[str] = []
    for c in s:
        if c not in allowed and c not in seen:
            seen.append(c)
    return "、".join(repr(c)[1:-1] for c in seen)


def _empty(kind: str) -> Verdict:
    return Verdict(kind, "", EMPTY, False, ["代码为空"])


def _length(kind: str, n: str, want: int) -> Verdict:
    return Verdict(kind, n, BAD_LENGTH, False, [f"长度错误：应为 {want} 位，实为 {len(n)} 位"])


def check_uscc(code: str | None) -> Verdict:
    n = normalize_code(code)
    if not n:
        return _empty(USCC)
    if len(n) != USCC_LENGTH:
        return _length(USCC, n, USCC_LENGTH)
    if any(c not in USCC_VALUE for c in n):
        return Verdict(USCC, n, BAD_ALPHABET, False,
                       [f"含非法字符：{_bad_chars(n, USCC_ALPHABET)}（统一社会信用代码只用数字和除 I、O、Z、S、V 外的大写字母）"])
    if any(c not in _DIGITS for c in n[2:8]):
        return Verdict(USCC, n, BAD_ALPHABET, False,
                       [f"第3–8位登记管理机关行政区划码应为6位数字，实为 {n[2:8]}"])
    if n[:2] not in USCC_PREFIXES:
        return Verdict(USCC, n, BAD_PREFIX, False,
                       [f"登记管理部门码和机构类别码 {n[:2]} 不是有效组合"])
    want = uscc_check_char(n[:17])
    if want != n[17]:
        return Verdict(USCC, n, BAD_CHECK, False, [f"校验码错误：应为 {want}，实为 {n[17]}"])
    inner = org_code_check_char(n[8:16])
    if inner != n[16]:
        return Verdict(USCC, n, SUSPICIOUS, True,
                       [f"存疑：主体标识码（第9–17位）校验码错误：应为 {inner}，实为 {n[16]}"])
    return Verdict(USCC, n, VALID, True, [])


def check_org_code(code: str | None) -> Verdict:
    n = normalize_code(code)
    if not n:
        return _empty(ORG_CODE)
    if len(n) != ORG_CODE_LENGTH:
        return _length(ORG_CODE, n, ORG_CODE_LENGTH)
    if any(c not in ORG_VALUE for c in n[:8]) or n[8] not in ORG_CHECK:
        bad = _bad_chars(n[:8], ORG_ALPHABET) or repr(n[8])[1:-1]
        return Verdict(ORG_CODE, n, BAD_ALPHABET, False,
                       [f"含非法字符：{bad}（本体为数字或大写字母，校验码为数字或 X）"])
    want = org_code_check_char(n[:8])
    if want != n[8]:
        return Verdict(ORG_CODE, n, BAD_CHECK, False, [f"校验码错误：应为 {want}，实为 {n[8]}"])
    return Verdict(ORG_CODE, n, VALID, True, [])


def check_reg_no(code: str | None) -> Verdict:
    n = normalize_code(code)
    if not n:
        return _empty(REG_NO)
    if len(n) != REG_NO_LENGTH:
        return _length(REG_NO, n, REG_NO_LENGTH)
    if any(c not in _DIGITS for c in n):
        return Verdict(REG_NO, n, BAD_ALPHABET, False, [f"含非数字字符：{_bad_chars(n, _DIGITS)}"])
    want = reg_no_check_digit(n[:14])
    if want != n[14]:
        return Verdict(REG_NO, n, BAD_CHECK, False, [f"校验码错误：应为 {want}，实为 {n[14]}"])
    return Verdict(REG_NO, n, VALID, True, [])


def is_real_birth_date(yyyymmdd: str) -> bool:
    if len(yyyymmdd) != 8 or any(c not in _DIGITS for c in yyyymmdd):
        return False
    y, m, d = int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:])
    if not (ID_BIRTH_YEAR_MIN <= y <= ID_BIRTH_YEAR_MAX) or not 1 <= m <= 12:
        return False
    return 1 <= d <= calendar.monthrange(y, m)[1]


def check_id_no(code: str | None) -> Verdict:
    n = normalize_code(code)
    if not n:
        return _empty(ID_NO)
    if len(n) != ID_LENGTH:
        return _length(ID_NO, n, ID_LENGTH)
    if any(c not in _DIGITS for c in n[:17]) or n[17] not in _DIGITS + "X":
        bad = _bad_chars(n[:17], _DIGITS) or repr(n[17])[1:-1]
        return Verdict(ID_NO, n, BAD_ALPHABET, False,
                       [f"含非法字符：{bad}（前17位为数字，末位为数字或 X）"])
    if not is_real_birth_date(n[6:14]):
        return Verdict(ID_NO, n, BAD_DATE, False, [f"出生日期 {n[6:14]} 不是有效日期"])
    want = id_check_char(n[:17])
    if want != n[17]:
        return Verdict(ID_NO, n, BAD_CHECK, False, [f"校验码错误：应为 {want}，实为 {n[17]}"])
    return Verdict(ID_NO, n, VALID, True, [])


def check_region_code(code: str | None) -> bool:
    """GB/T 2260 plausibility: 6 digits, a real province prefix (or national 100000)."""
    n = normalize_code(code)
    if not n or len(n) != 6 or any(c not in _DIGITS for c in n):
        return False
    return n == NATIONAL_REGION_CODE or n[:2] in PROVINCE_CODES


def check_industry_code(code: str | None) -> bool:
    """GB/T 4754: a section letter A–T, optionally followed by 2–4 digits."""
    n = normalize_code(code)
    return bool(n) and _INDUSTRY_RE.fullmatch(n) is not None


def check_code(code: str | None) -> Verdict:
    """Detect the kind by length and shape, then validate as that kind."""
    n = normalize_code(code)
    if not n:
        return _empty(UNKNOWN)
    if len(n) == ORG_CODE_LENGTH:
        return check_org_code(n)
    if len(n) == REG_NO_LENGTH:
        return check_reg_no(n)
    if len(n) == USCC_LENGTH:
        id_v = check_id_no(n)
        if id_v.valid:  # a valid ID number is treated as such (personal data first)
            return id_v
        uscc_v = check_uscc(n)
        if uscc_v.valid or uscc_v.status in (BAD_CHECK, SUSPICIOUS):
            return uscc_v
        looks_like_id = n[:2] in PROVINCE_CODES and id_v.status in (BAD_CHECK, BAD_DATE)
        return id_v if looks_like_id else uscc_v
    return Verdict(UNKNOWN, n, BAD_LENGTH, False,
                   [f"长度 {len(n)} 位，不是统一社会信用代码（18位）、组织机构代码（9位）、"
                    f"工商注册号（15位）或身份证号（18位）"])
