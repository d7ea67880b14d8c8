"""``credit check-code CODE...``: validate identifiers and explain the verdict in Chinese."""

from __future__ import annotations

import sys
from typing import TextIO

from .privacy import mask_id
from .validators import ID_NO, KIND_LABELS, STATUS_LABELS, check_code


def main_check_code(codes: list[str], out: TextIO | None = None) -> int:
    """Print one line per code (code, kind, verdict, why); 0 if all are valid, else 1.

    ID numbers are personal data: they are echoed masked, never in full.
    """
    out = out or sys.stdout
    all_valid = bool(codes)
    for raw in codes:
        v = check_code(raw)
        shown = mask_id(v.normalized) if v.kind == ID_NO else (v.normalized or raw)
        why = "；".join(v.reasons) if v.reasons else "—"
        print(
            f"{shown}\t{KIND_LABELS.get(v.kind, v.kind)}\t"
            f"{STATUS_LABELS.get(v.status, v.status)}\t{why}",
            file=out,
        )
        all_valid = all_valid and v.valid
    return 0 if all_valid else 1
