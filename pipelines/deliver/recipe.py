"""The 双随机 draw recipe in plain Python — the same arithmetic as the dbt models
(``dbt_project/models/sampling``) and the DuckDB recipe of ``docs/sampling.md``, written
independently so that a published draw can be checked against it.

- draw key of a subject:   sha256_hex(seed|period|department_code|subject_id)
- sample size per grade:   min(eligible, max(ceil(ratio × population), minimum if population > 0))
- drawn subjects:          per grade, the sample_size eligible candidates with the smallest
                           draw keys (ties: subject_id)
- inspector key:           sha256_hex(seed|period|department_code|subject_id|inspectors), one
                           per drawn subject; a = int(its hex digits 1–15), b = int(digits 16–30)
- inspectors:              the roster split into the inspectors of another region than the
                           subject's (回避; an unknown region counts as another) and those of
                           the same region, each list in badge_no order. From a list of n:
                           position a mod n, then position (a + 1 + b mod (n − 1)) mod n (a
                           different inspector, uniform over the other n − 1). The two
                           inspectors are the first two of [other-region picks, same-region
                           picks]: a same-region inspector only when fewer than two others exist.

Each drawn subject costs one hash and two look-ups, whatever the roster size (a key per
(subject, inspector) pair was O(drawn × roster): 10⁸–10⁹ hashes at province scale).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

SEP = "|"
INSPECTORS_PER_SUBJECT = 2
INSPECTOR_SALT = "inspectors"
HEX_DIGITS = 15            # 60 bits: fits a signed 64-bit integer in SQL
# Recorded with every published draw's inputs: a draw is re-drawn with the recipe it used.
RECIPE = ("2: draw key sha256(seed|period|department_code|subject_id); inspector key "
          "sha256(seed|period|department_code|subject_id|inspectors) over the roster in badge_no "
          "order, other regions first; docs/sampling.md")


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def draw_key(seed: str, period: str, department_code: str, subject_id: str) -> str:
    return sha256_hex(SEP.join((seed, period, department_code, subject_id)))


def inspector_key(seed: str, period: str, department_code: str, subject_id: str) -> str:
    return sha256_hex(SEP.join((seed, period, department_code, subject_id, INSPECTOR_SALT)))


def key_numbers(key: str) -> tuple[int, int]:
    """(a, b): the integers of hex digits 1–15 and 16–30 of an inspector key."""
    return int(key[:HEX_DIGITS], 16), int(key[HEX_DIGITS:2 * HEX_DIGITS], 16)


def pick_two(ordered: list[str], a: int, b: int) -> list[str]:
    """Up to two distinct entries of ``ordered``: position a mod n, then position
    (a + 1 + b mod (n − 1)) mod n."""
    n = len(ordered)
    if n == 0:
        return []
    first = a % n
    if n == 1:
        return [ordered[first]]
    return [ordered[first], ordered[(first + 1 + b % (n - 1)) % n]]


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
    region_of = {str(r["badge_no"]): r.get("region_code") for r in roster if r.get("badge_no")}
    badges = sorted(region_of)
    sides: dict[str | None, tuple[list[str], list[str]]] = {}   # subject region → (other, same)
    by_grade: dict[str, list[tuple[str, str, str | None]]] = {}
    for c in candidates:
        sid = str(c["subject_id"])
        by_grade.setdefault(str(c["grade"]), []).append(
            (draw_key(seed, period, department_code, sid), sid, c.get("region_code")))
    out: list[DrawnSubject] = []
    for grade in sorted(by_grade):
        ranked = sorted(by_grade[grade])[: int(sizes.get(grade, 0))]
        for rank, (key, sid, region) in enumerate(ranked, start=1):
            a, b = key_numbers(inspector_key(seed, period, department_code, sid))
            if region not in sides:
                sides[region] = ([x for x in badges if region is None or region_of[x] != region],
                                 [x for x in badges if region is not None and region_of[x] == region])
            other, same = sides[region]
            picks = (pick_two(other, a, b) + pick_two(same, a, b) + [None, None])[:INSPECTORS_PER_SUBJECT]
            out.append(DrawnSubject(department_code, period, grade, rank, sid, key, picks[0], picks[1]))
    return out
