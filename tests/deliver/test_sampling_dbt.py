"""The dbt sampling models on a tiny warehouse (``dbt build`` of the sampling models and
what they need, once per module): plan arithmetic, k smallest keys, frequency
exclusions, scope, roster, inspector avoidance — and the Python re-draw agrees with dbt."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from deliver_fixture import build_marts, run_dbt
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipelines.deliver import publish, recipe
from pipelines.deliver.redraw import catalogue_seed, redraw


@pytest.fixture(scope="module")
def wh(tmp_path_factory) -> Path:
    return build_marts(tmp_path_factory.mktemp("sampling_dbt"))


@pytest.fixture
def con(wh):
    c = duckdb.connect(str(wh))  # dbt-duckdb keeps a read-write handle open in-process
    yield c
    c.close()


def rows(con, sql, params=()):
    cur = con.execute(sql, list(params))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def test_period_and_seed(con):
    assert {(r["period"], r["seed"]) for r in rows(con, "select distinct period, seed from marts.sampling_plan")} \
        == {("2026-Q4", catalogue_seed("2026-Q4"))}


def test_plan_arithmetic(con):
    plan = rows(con, "select *, cast(ratio as varchar) as r from marts.sampling_plan")
    assert {p["department_code"] for p in plan} == {"scjg", "sthj", "yjgl", "zjj"}   # draws=true only
    assert all(len([p for p in plan if p["department_code"] == d]) == 4 for d in ("scjg", "zjj"))
    for p in plan:
        cnt = rows(con, """select count(*) filter (where in_pool) as pop, count(*) filter (where is_eligible) as el
            from marts.sampling_candidates where department_code = ? and grade = ?""",
                   [p["department_code"], p["grade"]])[0]
        assert (p["population"], p["eligible"]) == (cnt["pop"], cnt["el"])
        assert p["sample_size"] == recipe.sample_size(p["population"], p["eligible"], p["r"],
                                                      p["minimum_per_stratum"]), p
    assert any(p["population"] > 0 for p in plan)


def test_draw_is_the_k_smallest_keys(con):
    plan = rows(con, "select * from marts.sampling_plan")
    for p in plan:
        elig = rows(con, """select subject_id, draw_key from marts.sampling_candidates
            where department_code = ? and grade = ? and is_eligible""", [p["department_code"], p["grade"]])
        for e in elig:
            assert e["draw_key"] == recipe.draw_key(p["seed"], p["period"], p["department_code"], e["subject_id"])
        want = [e["subject_id"] for e in sorted(elig, key=lambda e: (e["draw_key"], e["subject_id"]))][: p["sample_size"]]
        got = [r["subject_id"] for r in rows(con, """select subject_id from marts.inspection_draw
            where department_code = ? and grade = ? order by draw_rank""", [p["department_code"], p["grade"]])]
        assert got == want


def test_frequency_exclusions(con):
    cands = rows(con, "select * from marts.sampling_candidates")
    limited = [c for c in cands if c["in_pool"] and c["max_inspections_per_window"] is not None
               and c["inspections_in_window"] >= c["max_inspections_per_window"]]
    assert limited, "the fixture inspects some subjects within the window"
    for c in limited:
        assert not c["is_eligible"] and "近12个月已检查" in c["exclusion_reason"]
    drawn = {r["subject_id"] for r in rows(con, "select subject_id from marts.inspection_draw")}
    assert not drawn & {c["subject_id"] for c in limited}
    for c in cands:
        if c["in_pool"] and c["inspections_in_window"] == 0:
            assert c["is_eligible"]


def test_pool_statuses_and_scope(con):
    gone = rows(con, "select * from marts.sampling_candidates where status = '注销'")
    assert gone and all(not g["in_pool"] and "注销" in g["exclusion_reason"] for g in gone)
    sthj = {r["subject_id"]: r["scope_rules"] for r in rows(
        con, "select subject_id, scope_rules from marts.sampling_candidates where department_code = 'sthj'")}
    # fixture: permits from sthj for i % 4 == 1, chemicals (C26) for i % 5 == 0, penalties i % 9 == 4
    from deliver_fixture import uscc
    for i in range(40):
        expected = {r for r, hit in (("license", i % 4 == 1), ("industry_prefix", i % 5 == 0),
                                     ("penalty", i % 9 == 4)) if hit}
        got = set(sthj.get(uscc(100 + i), "").split(";")) - {""}
        assert got == expected, i
    assert rows(con, "select count(*) as n from marts.sampling_candidates where department_code = 'zjj'")[0]["n"] == 0


def test_roster_and_inspectors(con):
    roster = rows(con, "select * from marts.sampling_roster")
    assert "name" not in roster[0]
    assert {r["badge_no"] for r in roster} == {"SCJG-000", "SCJG-001", "SCJG-002", "SCJG-003", "STHJ-000", "STHJ-001"}
    region = {r["badge_no"]: r["region_code"] for r in roster}
    draw = rows(con, "select * from marts.inspection_draw")
    assert draw
    for d in draw:
        if d["department_code"] == "yjgl":          # no roster delivered
            assert d["inspector_1"] is None
            continue
        b1, b2 = d["inspector_1_badge_no"], d["inspector_2_badge_no"]
        assert b1 and b2 and b1 != b2 and b1 in region and b2 in region
        assert d["inspector_1"] == f"{d['inspector_1_name']}（{b1}）"
        assert region[b1] != d["region_code"], "回避: another region first"
        if d["department_code"] == "scjg":          # two other-region inspectors in every case
            assert d["avoidance_met"] and region[b2] != d["region_code"]


def test_dbt_unit_tests_of_the_plan(wh):
    run_dbt(wh.parent.parent, ["test", "--select", "sampling_plan,test_type:unit"])


def test_python_redraw_agrees_with_dbt(wh, tmp_path):
    con = duckdb.connect(str(wh))
    try:
        for dept in ("scjg", "sthj", "yjgl", "zjj"):
            pub = publish.publish_draw(con, dept)
            assert pub.status == "new"
            res = redraw(con, dept, "2026-Q4")
            assert res.matches, res.summary()
            assert publish.publish_draw(con, dept).status == "unchanged"
    finally:
        con.close()


REGIONS = ["130102", "130104", "130105", None]


def _draw_model_sql(wh: Path) -> str:
    """marts.inspection_draw as dbt compiled it for the module's warehouse."""
    compiled = next((wh.parent.parent / "dbt_target" / "compiled").rglob("inspection_draw.sql"))
    return compiled.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def draw_sql(wh):
    return _draw_model_sql(wh)


@pytest.fixture(scope="module")
def config_rows(wh):
    c = duckdb.connect(str(wh))  # as `con`: dbt-duckdb keeps a read-write handle open in-process
    try:
        return {t: (c.execute(f"select * from config.{t}").fetchall(),
                    c.execute(f"select column_name, data_type from information_schema.columns "
                              f"where table_schema = 'config' and table_name = '{t}' order by ordinal_position"
                              ).fetchall())
                for t in ("sampling_parameters", "sampling_seeds")}
    finally:
        c.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(subjects=[("A", "130102")] * 12, roster=["130102"] * 4, seed="5e3d")   # one region only
@example(subjects=[("B", "130102")] * 12, roster=["130104", "130102", "130102"], seed="5e3d")  # one other
@given(
    subjects=st.lists(st.tuples(st.sampled_from("ABCD"), st.sampled_from(REGIONS)), min_size=1, max_size=25),
    # few regions, so that rosters of one region (no inspector of another) come up often
    roster=st.lists(st.sampled_from(REGIONS[:2] + [None]), max_size=6),
    seed=st.text(alphabet="0123456789abcdef", min_size=1, max_size=8),
)
def test_draw_model_and_recipe_agree_on_any_roster(draw_sql, config_rows, subjects, roster, seed):
    """The dbt model's SQL (as compiled) and pipelines/deliver/recipe.py pick the same
    subjects and inspectors for any roster: empty, one inspector, all of one region, the
    same-region fallback on either side, subjects and inspectors without region."""
    dept, period = "scjg", "2026-Q4"
    pool = [{"subject_id": f"S{i:02d}", "grade": g, "region_code": r} for i, (g, r) in enumerate(subjects)]
    sizes = {g: max(1, sum(1 for c in pool if c["grade"] == g) // 2) for g in "ABCD"}
    staff = [{"badge_no": f"B{i}", "region_code": r} for i, r in enumerate(roster)]
    want = {d.subject_id: (d.inspector_1_badge_no, d.inspector_2_badge_no)
            for d in recipe.draw(seed, period, dept, pool, sizes, staff)}

    con = duckdb.connect()
    try:
        con.execute("attach ':memory:' as credit")
        con.execute("use credit")
        for schema in ("config", "marts", "raw"):
            con.execute(f"create schema {schema}")
        for table, (rows_, cols) in config_rows.items():
            con.execute(f"create table config.{table} ({', '.join(f'{c} {t}' for c, t in cols)})")
            if rows_:
                con.executemany(f"insert into config.{table} values ({', '.join('?' for _ in cols)})", rows_)
        con.execute("""create table marts.sampling_candidates (department_code varchar, period varchar,
            as_of date, subject_id varchar, uscc varchar, name varchar, region_code varchar, grade varchar,
            seed varchar, draw_key varchar, is_eligible boolean, draws boolean)""")
        con.executemany("insert into marts.sampling_candidates values (?, ?, date '2026-11-30', ?, ?, ?, ?, ?, ?, ?, "
                        "true, true)",
                        [[dept, period, c["subject_id"], None, None, c["region_code"], c["grade"], seed,
                          recipe.draw_key(seed, period, dept, c["subject_id"])] for c in pool])
        con.execute("create table marts.sampling_plan (department_code varchar, grade varchar, sample_size bigint)")
        con.executemany("insert into marts.sampling_plan values (?, ?, ?)", [[dept, g, n] for g, n in sizes.items()])
        con.execute("""create table marts.sampling_roster (department_code varchar, badge_no varchar,
            record_id varchar, region_code varchar)""")
        con.execute("create table raw.inspector (record_id varchar, name varchar)")
        for i in staff:
            con.execute("insert into marts.sampling_roster values (?, ?, ?, ?)",
                        [dept, i["badge_no"], "r" + i["badge_no"], i["region_code"]])
            con.execute("insert into raw.inspector values (?, ?)", ["r" + i["badge_no"], "检查员" + i["badge_no"]])
        got = {s: (b1, b2) for s, b1, b2 in con.execute(
            f"select subject_id, inspector_1_badge_no, inspector_2_badge_no from ({draw_sql}) as d").fetchall()}
    finally:
        con.close()
    assert got == want
