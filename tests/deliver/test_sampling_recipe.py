"""The draw recipe and the plan arithmetic (pure Python, no warehouse)."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.deliver import recipe
from pipelines.settings import catalog_dir

SEED = "5e3d"
PERIOD = "2026-Q4"


def cands(n: int, grade: str = "B", region: str = "130102") -> list[dict]:
    return [{"subject_id": f"S{i:03d}", "grade": grade, "region_code": region} for i in range(n)]


@pytest.mark.parametrize(("population", "eligible", "ratio", "minimum", "expected"), [
    (100, 100, "0.03", 0, 3),     # exact decimal: 0.03 × 100 = 3, not 3.0000000000000004 → 4
    (101, 101, "0.03", 0, 4),     # ceil(3.03)
    (35, 35, "0.10", 0, 4),       # ceil(3.5)
    (10, 10, "0.30", 1, 3),
    (3, 3, "0.80", 1, 3),         # ceil(2.4)
    (1, 1, "0.03", 0, 1),         # ceil: a non-empty stratum yields 1
    (5, 5, "0", 1, 1),            # the minimum for a non-empty stratum
    (0, 0, "0.30", 1, 0),         # empty stratum: no minimum
    (10, 2, "0.80", 1, 2),        # never more than the eligible subjects
    (10, 0, "0.30", 1, 0),        # everybody excluded by frequency
])
def test_sample_size(population, eligible, ratio, minimum, expected):
    assert recipe.sample_size(population, eligible, ratio, minimum) == expected
    assert recipe.sample_size(population, eligible, Decimal(ratio), minimum) == expected


def _ratios() -> list[dict]:
    with (catalog_dir() / "sampling" / "sampling_ratios.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_configured_defaults_and_monotonic_ratios():
    rows = _ratios()
    default = {r["grade"]: r for r in rows if r["department_code"] == "*"}
    assert {g: default[g]["ratio"] for g in "ABCD"} == {"A": "0.03", "B": "0.10", "C": "0.30", "D": "0.80"}
    assert {g: default[g]["minimum_per_stratum"] for g in "ABCD"} == {"A": "0", "B": "0", "C": "1", "D": "1"}
    assert {g: default[g]["max_inspections_per_window"] for g in "ABCD"} == {"A": "1", "B": "1", "C": "2", "D": ""}
    for dept in {r["department_code"] for r in rows}:
        eff = dict(default)
        eff.update({r["grade"]: r for r in rows if r["department_code"] == dept})
        ratios = [Decimal(eff[g]["ratio"]) for g in "ABCD"]
        assert ratios == sorted(ratios) and len(set(ratios)) == 4, f"{dept}: ratios must rise A→D"
        assert all(Decimal(0) <= r <= 1 for r in ratios)


def test_period_of():
    assert recipe.period_of(dt.date(2026, 11, 30)) == "2026-Q4"
    assert recipe.period_of(dt.date(2026, 1, 1)) == "2026-Q1"
    assert recipe.period_of(dt.date(2026, 11, 30), "month") == "2026-11"


def test_draw_takes_the_k_smallest_keys_per_grade():
    pool = cands(20, "B") + cands(5, "C")
    for c in pool[20:]:
        c["subject_id"] = "C" + c["subject_id"]
    drawn = recipe.draw(SEED, PERIOD, "scjg", pool, {"B": 3, "C": 2}, [])
    by_grade = {g: [d for d in drawn if d.grade == g] for g in "BC"}
    for g, k in (("B", 3), ("C", 2)):
        keys = sorted(recipe.draw_key(SEED, PERIOD, "scjg", c["subject_id"]) for c in pool if c["grade"] == g)
        assert [d.draw_key for d in by_grade[g]] == keys[:k]
        assert [d.draw_rank for d in by_grade[g]] == list(range(1, k + 1))
    assert recipe.draw_key(SEED, PERIOD, "scjg", "S001") == recipe.sha256_hex(f"{SEED}|{PERIOD}|scjg|S001")


def test_draw_is_reproducible_and_depends_on_seed_period_department():
    pool, sizes = cands(50), {"B": 5}
    roster = [{"badge_no": f"B{i}", "region_code": "130104"} for i in range(4)]
    a = recipe.draw(SEED, PERIOD, "scjg", pool, sizes, roster)
    assert a == recipe.draw(SEED, PERIOD, "scjg", list(reversed(pool)), sizes, list(reversed(roster)))
    ids = [d.subject_id for d in a]
    assert ids != [d.subject_id for d in recipe.draw("another seed", PERIOD, "scjg", pool, sizes, roster)]
    assert ids != [d.subject_id for d in recipe.draw(SEED, "2027-Q1", "scjg", pool, sizes, roster)]
    assert ids != [d.subject_id for d in recipe.draw(SEED, PERIOD, "sthj", pool, sizes, roster)]


def test_inspectors_avoid_the_subjects_region():
    roster = [{"badge_no": "L1", "region_code": "130102"}, {"badge_no": "L2", "region_code": "130102"},
              {"badge_no": "O1", "region_code": "130104"}, {"badge_no": "O2", "region_code": "130104"},
              {"badge_no": "O3", "region_code": "130105"}]
    drawn = recipe.draw(SEED, PERIOD, "scjg", cands(30, region="130102"), {"B": 30}, roster)
    assert len(drawn) == 30
    for d in drawn:
        assert {d.inspector_1_badge_no, d.inspector_2_badge_no} <= {"O1", "O2", "O3"}
        assert d.inspector_1_badge_no != d.inspector_2_badge_no
    # the inspectors are spread by the keyed hash, not always the same pair
    assert len({(d.inspector_1_badge_no, d.inspector_2_badge_no) for d in drawn}) > 1


def test_same_region_inspector_only_when_the_roster_has_too_few():
    roster = [{"badge_no": "L1", "region_code": "130102"}, {"badge_no": "L2", "region_code": "130102"},
              {"badge_no": "O1", "region_code": "130104"}]
    for d in recipe.draw(SEED, PERIOD, "scjg", cands(10), {"B": 10}, roster):
        assert d.inspector_1_badge_no == "O1"
        assert d.inspector_2_badge_no in {"L1", "L2"}
    one = recipe.draw(SEED, PERIOD, "scjg", cands(3), {"B": 3}, roster[:1])
    assert all(d.inspector_1_badge_no == "L1" and d.inspector_2_badge_no is None for d in one)


def test_pick_two_positions():
    ordered = ["I0", "I1", "I2", "I3", "I4"]
    assert recipe.pick_two(ordered, 7, 0) == ["I2", "I3"]           # 7 mod 5 = 2; 2 + 1 + 0
    assert recipe.pick_two(ordered, 7, 3) == ["I2", "I1"]           # (2 + 1 + 3 mod 4) mod 5 = 1
    assert recipe.pick_two(ordered, 4, 11) == ["I4", "I3"]          # (4 + 1 + 3) mod 5 = 3
    assert recipe.pick_two(["I0"], 12345, 678) == ["I0"]
    assert recipe.pick_two([], 1, 2) == []
    key = recipe.inspector_key(SEED, PERIOD, "scjg", "S001")
    assert key == recipe.sha256_hex(f"{SEED}|{PERIOD}|scjg|S001|inspectors")
    assert recipe.key_numbers(key) == (int(key[:15], 16), int(key[15:30], 16))


def test_inspector_pairs_are_spread_uniformly():
    """Every ordered pair of distinct other-region inspectors occurs, none far from its share."""
    roster = [{"badge_no": f"O{i}", "region_code": "130104"} for i in range(4)]
    drawn = recipe.draw(SEED, PERIOD, "scjg", cands(1200), {"B": 1200}, roster)
    pairs: dict[tuple, int] = {}
    for d in drawn:
        assert d.inspector_1_badge_no != d.inspector_2_badge_no
        pairs[(d.inspector_1_badge_no, d.inspector_2_badge_no)] = pairs.get(
            (d.inspector_1_badge_no, d.inspector_2_badge_no), 0) + 1
    assert len(pairs) == 12                                       # 4 × 3 ordered pairs
    assert all(50 <= n <= 150 for n in pairs.values()), pairs     # expected 100 each


def test_roster_order_and_size_do_not_matter_beyond_membership():
    roster = [{"badge_no": f"B{i:02d}", "region_code": "130104"} for i in range(30)]
    a = recipe.draw(SEED, PERIOD, "scjg", cands(40), {"B": 40}, roster)
    assert a == recipe.draw(SEED, PERIOD, "scjg", cands(40), {"B": 40}, list(reversed(roster)))
    # the recipe is defined on the roster in badge order: a withdrawn inspector is never picked
    b = recipe.draw(SEED, PERIOD, "scjg", cands(40), {"B": 40}, roster[1:])
    assert all(d.inspector_1_badge_no != "B00" and d.inspector_2_badge_no != "B00" for d in b)


REGIONS = st.sampled_from(["130102", "130104", "130105", None])


@settings(max_examples=40, deadline=None)
@given(
    subjects=st.lists(st.tuples(st.sampled_from("ABCD"), REGIONS), min_size=1, max_size=30),
    roster=st.lists(REGIONS, max_size=8),
    seed=st.text(alphabet="0123456789abcdef", min_size=1, max_size=8),
)
def test_documented_sql_and_python_recipe_agree(subjects, roster, seed):
    """docs/sampling.md steps 2–3 (DuckDB) and recipe.draw give the same subjects and
    inspectors: empty, tiny and one-region rosters, subjects and inspectors without region."""
    import duckdb
    from deliver_fixture import doc_recipe_blocks

    pool = [{"subject_id": f"S{i:02d}", "grade": g, "region_code": r} for i, (g, r) in enumerate(subjects)]
    sizes = {g: max(1, sum(1 for c in pool if c["grade"] == g) // 2) for g in "ABCD"}
    staff = [{"badge_no": f"B{i}", "region_code": r} for i, r in enumerate(roster)]
    want = recipe.draw(seed, PERIOD, "scjg", pool, sizes, staff)

    con = duckdb.connect()
    try:
        con.execute(f"set variable seed = '{seed}'")
        con.execute(f"set variable period = '{PERIOD}'")
        con.execute("set variable dept = 'scjg'")
        con.execute("create table candidates (subject_id varchar, grade varchar, region_code varchar)")
        con.executemany("insert into candidates values (?, ?, ?)",
                        [[c["subject_id"], c["grade"], c["region_code"]] for c in pool])
        con.execute("create table plan (grade varchar, sample_size bigint)")
        con.executemany("insert into plan values (?, ?)", list(sizes.items()))
        con.execute("create table roster (badge_no varchar, region_code varchar)")
        if staff:
            con.executemany("insert into roster values (?, ?)", [[i["badge_no"], i["region_code"]] for i in staff])
        for block in doc_recipe_blocks():
            con.execute(block)
        got = con.execute("""
            select d.grade, d.draw_rank, d.subject_id, d.draw_key, i1.badge_no, i2.badge_no
            from drawn as d
            left join drawn_inspectors as i1 on i1.subject_id = d.subject_id and i1.pick = 1
            left join drawn_inspectors as i2 on i2.subject_id = d.subject_id and i2.pick = 2
            order by d.grade, d.draw_rank""").fetchall()
    finally:
        con.close()
    assert got == [(d.grade, d.draw_rank, d.subject_id, d.draw_key, d.inspector_1_badge_no,
                    d.inspector_2_badge_no) for d in want]
