"""Masking for anything shown to auditors: never a full ID number."""

from __future__ import annotations

import re
from typing import Any

# Anything that looks like an 18-char ID number (17 digits + digit or X), not glued to
# other letters/digits. Full-width digits are normalised by ingestion; the raw JSON of a
# rejected row may still hold them, so they are matched too.
_ID_RE = re.compile(r"(?<![0-9A-Za-z０-９])([0-9０-９]{4})[0-9０-９]{10}([0-9０-９]{3}[0-9０-９XxＸｘ])(?![0-9A-Za-z０-９])")
# 15-digit first-generation ID numbers are masked the same way.
_ID15_RE = re.compile(r"(?<![0-9A-Za-z])(\d{4})\d{7}(\d{4})(?![0-9A-Za-z])")


def mask_id(value: Any) -> Any:
    """``360402199001010071`` → ``3604**********0071``; other values unchanged."""
    if value is None or not isinstance(value, str):
        return value
    return mask_ids(value)


def mask_ids(text: str | None) -> str | None:
    """Mask every ID-number-like token inside a text (reasons, raw JSON, file names)."""
    if not text:
        return text
    text = _ID_RE.sub(lambda m: m.group(1) + "*" * 10 + m.group(2), text)
    return _ID15_RE.sub(lambda m: m.group(1) + "*" * 7 + m.group(2), text)


def mask_personal(value: Any) -> Any:
    """A personal value that is not an ID number (a name): keep the first character."""
    if value is None or (isinstance(value, float) and value != value):
        return value
    s = str(value)
    if not s:
        return s
    masked = mask_ids(s)
    if masked != s:
        return masked
    return s[0] + "*" * max(1, len(s) - 1)
