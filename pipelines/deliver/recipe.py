"""The 双随机 draw recipe in plain Python — the same arithmetic as the dbt models
(``dbt_project/models/sampling``) and the DuckDB recipe of ``docs/sampling.md``, written
independently so that a published draw can be checked against it.

- draw key of a subject:   sha256_hex(seed|period|department_code|subject_id)
- inspector key:           sha256_hex(seed|period|department_code|subject_id|badge_no)
- sample size per grade:   min(eligible, max(ceil(ratio × population), minimum if population > 0))
- drawn subjects:          per grade, the sample_size eligible candidates with the smallest
                           draw keys (ties: subject_id)
- inspectors:              the 2 roster entries ordered by (same region as the subject,
                           inspector key, badge_no): other-region inspectors first (回避)
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

SEP = "|"
INSPECTORS_PER_SUBJECT = 2


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def draw_key(seed: str, period: str, department_code: str, subject_id: str) -> str:
    return sha256_hex(SEP.join((seed, period, department_code, subject_id)))


def inspector_key(seed: str, period: str, department_code: str, subject_id: str, badge_no: str) -> str:
    return sha256_hex(SEP.join((seed, period, department_code, subject_id, badge_no)))


def sample_size(population: int, eligible: int, ratio: Decimal | str | float, minimum: int) -> int:
    """Ceil of ratio × population in exact decimal arithmetic (``0.03 × 100 = 3``, not 4),
    at least ``minimum`` for a non-empty stratum, at most the eligible subjects."""
    r = Decimal(str(ratio))
    by_ratio = int((r * population).to_integral_value(rounding=ROUND_CEILING))
    floor = int(minimum or 0) if population > 0 else 0
    return max(0, min(int(eligible), max(by_ratio, floor)))


def period_of(as_of, granularity: str = "quarter") -> str:
    """``2026-11-30`` → ``2026-Q4`` (quarter) or ``2026-11`` (month)."""
    if granularity == "month":
        return f"{as_of.year:04d}-{as_of.month:02d}"
    return f"{as_of.year:04d}-Q{math.ceil(as_of.month / 3)}"


@dataclass(frozen=True)
class DrawnSubject:
    department_code: str
    period: str
    grade: str
    draw_rank: int
    subject_id: str
    draw_key: str
    inspector_1_badge_no: str | None
    inspector_2_badge_no: str | None


def draw(seed: str, period: str, department_code: str,
         candidates: Iterable[Mapping[str, str | None]],
         sizes: Mapping[str, int],
         roster: Iterable[Mapping[str, str | None]]) -> list[DrawnSubject]:
    """Draw one department's subjects and inspectors.

    ``candidates``: eligible subjects (``subject_id``, ``grade``, ``region_code``);
    ``sizes``: sample size per grade; ``roster``: available inspectors (``badge_no``,
    ``region_code``). Returns the drawn subjects ordered by grade and rank."""
    roster = [dict(r) for r in roster if r.get("badge_no")]
    by_grade: dict[str, list[tuple[str, str, str | None]]] = {}
    for c in candidates:
        sid = str(c["subject_id"])
        by_grade.setdefault(str(c["grade"]), []).append(
            (draw_key(seed, period, department_code, sid), sid, c.get("region_code")))
    out: list[DrawnSubject] = []
    for grade in sorted(by_grade):
        ranked = sorted(by_grade[grade])[: int(sizes.get(grade, 0))]
        for rank, (key, sid, region) in enumerate(ranked, start=1):
            picks = sorted(
                roster,
                key=lambda i: (region is not None and i.get("region_code") == region,
                               inspector_key(seed, period, department_code, sid, str(i["badge_no"])),
                               str(i["badge_no"])),
            )[:INSPECTORS_PER_SUBJECT]
            badges = [str(p["badge_no"]) for p in picks] + [None, None]
            out.append(DrawnSubject(department_code, period, grade, rank, sid, key, badges[0], badges[1]))
    return out
