"""Policy invariants of the dbt warehouse, checked with SQL on a tiny scenario
(tests/dbt/dbt_scenario.py), plus the dbt unit tests and data tests (run by `dbt build`)."""

from __future__ import annotations

from dbt_scenario import AS_OF, NAMED, PAST_AS_OF, PERSON

from pipelines.catalogue import load_catalogue
from pipelines.warehouse import gen_dbt_sources
from pipelines.warehouse.lookup import format_lookup, lookup


def grade(wh, key: str, as_of: str = AS_OF) -> tuple:
    sid = NAMED.get(key, key)
    rows = wh.query("""select grade, grade_reason, score, override_applied from marts.credit_grades
                       where subject_id = ? and as_of = ?""", [sid, as_of])
    assert len(rows) == 1, (key, as_of, rows)
    return rows[0]


def test_generated_sources_and_staging_are_up_to_date():
    files = gen_dbt_sources.generated_files(load_catalogue())
    for path, text in files.items():
        assert path.exists(), f"{path} missing: run python -m pipelines.warehouse.gen_dbt_sources"
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: regenerate it"
    assert gen_dbt_sources.main(["--check"]) == 0


def test_build_ran_unit_tests_and_data_tests(dbt_warehouse):
    _, res = dbt_warehouse.builds[1]
    kinds = {}
    for r in res.result:
        kinds.setdefault(r.node.resource_type, []).append(str(r.status))
    assert len(kinds["unit_test"]) >= 4 and set(kinds["unit_test"]) == {"pass"}
    assert len(kinds["test"]) >= 40 and set(kinds["test"]) == {"pass"}
    assert set(kinds["model"]) == {"success"}


def test_every_subject_is_scored_and_explained(dbt_warehouse):
    wh = dbt_warehouse
    n_subjects = wh.query("select count(*) from marts.subjects")[0][0]
    for as_of in (PAST_AS_OF, AS_OF):
        assert wh.query("select count(*) from marts.credit_grades where as_of = ?", [as_of])[0][0] == n_subjects
    bad = wh.query("""
        select g.subject_id, g.as_of, g.score, sum(c.points)
        from marts.credit_grades g join marts.score_components c using (subject_id, as_of)
        group by g.subject_id, g.as_of, g.score
        having abs(g.score - sum(c.points)) > 0.5""")
    assert bad == []
    # persons are scored too (pseudonymous id)
    assert grade(wh, PERSON)[0] in "ABCD"


def test_active_serious_list_subject_is_D(dbt_warehouse):
    g, reason, _, override = grade(dbt_warehouse, "serious")
    assert (g, reason, override) == ("D", "列入严重失信主体名单（有效）", "serious_list")
    # precedence: serious list (1) before dishonest debtor (2)
    assert grade(dbt_warehouse, "both")[:2] == ("D", "列入严重失信主体名单（有效）")


def test_repaired_entry_no_longer_counts(dbt_warehouse):
    wh = dbt_warehouse
    g, reason, _, _ = grade(wh, "repaired")
    assert g != "D" and "严重失信" not in reason
    rec = wh.query("""select is_repaired, is_public, is_scoring, record_state from marts.credit_records
                      where subject_id = ? and category = 'serious_dishonesty_list'""", [NAMED["repaired"]])
    assert rec == [(True, False, False, "已修复")]
    assert wh.query("""select count(*) from marts.score_components where subject_id = ? and as_of = ?
                       and indicator = 'serious_list'""", [NAMED["repaired"], AS_OF])[0][0] == 0
    # before the repair date (past as_of) it was D by the list
    assert grade(wh, "repaired", PAST_AS_OF)[:2] == ("D", "列入严重失信主体名单（有效）")
    # a repaired abnormal-operation listing (no document number) lifts the cap
    assert grade(wh, "abnormal_rep")[3] is None


def test_record_past_its_window_is_not_public_and_not_scoring(dbt_warehouse):
    wh = dbt_warehouse
    rec = wh.query("""select severity, publicity_until, is_public, is_scoring, record_state
                      from marts.credit_records where subject_id = ? and category = 'admin_penalty'""",
                   [NAMED["expired"]])
    assert len(rec) == 1
    severity, until, public, scoring, state = rec[0]
    assert (severity, str(until), public, scoring, state) == ("一般", "2025-01-09", False, False, "已过公示期")
    assert wh.query("""select count(*) from marts.score_components where subject_id = ? and as_of = ?
                       and indicator like 'penalty%'""", [NAMED["expired"], AS_OF])[0][0] == 0
    assert wh.query("select count(*) from marts.credit_records where is_public and not is_active")[0][0] == 0


def test_objection_in_progress_suspends_list_override(dbt_warehouse):
    wh = dbt_warehouse
    _, reason, _, override = grade(wh, "objected")
    assert override is None and "名单" not in reason
    assert wh.query("""select under_objection from marts.credit_records
                       where subject_id = ? and category = 'serious_dishonesty_list'""",
                    [NAMED["objected"]]) == [(True,)]
    # closed 信息无误 -> the override applies again
    assert grade(wh, "objection_ok")[3] == "serious_list"
    # closed 撤销 -> the record is withdrawn for good
    assert wh.query("""select is_public, is_scoring, record_state from marts.credit_records
                       where subject_id = ?""", [NAMED["withdrawn"]]) == [(False, False, "异议撤销")]


def test_other_overrides(dbt_warehouse):
    g, reason, _, _ = grade(dbt_warehouse, "abnormal")
    assert g == "C" and "经营异常" in reason
    assert grade(dbt_warehouse, "revoked")[:2] == ("D", "登记状态为吊销")
    # point in time: the 吊销 registration was delivered in 2026
    assert grade(dbt_warehouse, "revoked", PAST_AS_OF)[3] is None


def test_publicity_windows_on_the_scenario(dbt_warehouse):
    wh = dbt_warehouse
    food = wh.query("select severity, publicity_until, is_public from marts.credit_records where subject_id = ?",
                    [NAMED["food"]])
    assert [(s, str(u), p) for s, u, p in food] == [("轻微", "2027-01-04", True)]  # domain minimum 1 year
    warn = wh.query("select severity, is_public from marts.credit_records where subject_id = ?",
                    [NAMED["warning"]])
    assert warn == [("轻微", False)]  # 警告 only: not published


def test_point_in_time_reproduces_earlier_grades(dbt_warehouse):
    wh = dbt_warehouse
    again = wh.query("""select subject_id, score, grade, grade_reason, model_version
                        from marts.credit_grades where as_of = ? order by subject_id""", [PAST_AS_OF])
    assert again == wh.past_grades_first and len(again) > 100
    # history kept: both evaluations are there
    assert wh.query("select count(distinct as_of) from marts.credit_grades")[0][0] == 2
    # listed 2026-01 (delivered 2026-01-15): not at the past date, D now
    assert grade(wh, "late", PAST_AS_OF)[0] != "D"
    assert grade(wh, "late")[0] == "D"
    # a corrected re-delivery (2026-02) does not change the past evaluation
    past = wh.query("""select indicator from marts.score_components where subject_id = ? and as_of = ?
                       and indicator like 'penalty%'""", [NAMED["corrected"], PAST_AS_OF])
    now = wh.query("""select indicator from marts.score_components where subject_id = ? and as_of = ?
                      and indicator like 'penalty%'""", [NAMED["corrected"], AS_OF])
    assert past == [("penalty_general",)] and now == [("penalty_serious",)]


def test_no_personal_full_values_downstream_of_raw(dbt_warehouse):
    cat = load_catalogue()
    cols = dbt_warehouse.query("""select table_schema, table_name, column_name from information_schema.columns
                                  where table_schema in ('staging', 'intermediate', 'marts')""")
    assert cols
    # each category's staging model drops its personal fields (keeps _hash / _masked)
    for c in cat.categories.values():
        staged = {col for schema, table, col in cols if table == f"stg_{c.id}"}
        assert staged, c.id
        for f in c.personal_fields:
            assert f.name not in staged and f"{f.name}_hash" in staged, (c.id, f.name)
    # ID numbers appear nowhere downstream in full
    id_fields = {f.name for c in cat.categories.values() for f in c.personal_fields if f.code_kind == "id_no"}
    assert [c for c in cols if c[2] in id_fields] == []


def test_lookup(dbt_warehouse):
    con = dbt_warehouse.connect()
    try:
        r = lookup(con, NAMED["serious"])
        assert r["found"] and r["grade"]["grade"] == "D"
        assert [s["reason"] for s in r["sanctions"]] == ["列入严重失信主体名单（有效）"]
        assert r["top_indicators"][0]["indicator"] == "serious_list"
        text = format_lookup(r)
        assert "信用等级：D" in text and "列入严重失信主体名单" in text
        o = lookup(con, "测试objected有限公司")
        assert o["found"] and o["sanctions"] == [] and len(o["suspended"]) == 1
        assert "异议处理中" in format_lookup(o)
        assert lookup(con, "不存在的公司")["found"] is False
        many = lookup(con, "测试")
        assert not many["found"] and len(many["candidates"]) > 1
    finally:
        con.close()


def test_retired_relations_are_dropped(dbt_warehouse):
    """A model the project no longer builds (dbt_project.yml retired_relations) leaves no
    stale table behind in an upgraded warehouse: the next run drops it."""
    schema, name = dbt_warehouse.planted_retired.split(".")
    assert dbt_warehouse.query("select count(*) from information_schema.tables "
                               "where table_schema = ? and table_name = ?", [schema, name]) == [(0,)]


def test_pit_fast_path_equals_window(dbt_warehouse):
    """int_record_states takes each record's current version directly (pit_versions_current)
    and the window only for keys with a version delivered after as_of: the same rows as
    ranking every version of every key (the plain pit_versions rule)."""
    wh = dbt_warehouse
    window = """select record_id from (
                    select v.record_id, v.decided_on, row_number() over (
                        partition by v.version_key
                        order by v.batch_date desc, v.batch desc, v.source_file desc, v.source_row desc) as rk
                    from intermediate.int_record_versions as v where v.batch_date <= cast(? as date))
                where rk = 1 and decided_on <= cast(? as date)"""
    fast = "select record_id from intermediate.int_record_states"
    assert wh.query(f"select count(*) from ({window} except all {fast})", [AS_OF, AS_OF])[0][0] == 0
    assert wh.query(f"select count(*) from ({fast} except all {window})", [AS_OF, AS_OF])[0][0] == 0
    assert wh.query("select count(*) from intermediate.int_record_states")[0][0] > 100
    # the past evaluation (test_point_in_time_reproduces_earlier_grades) took the window
    # path: some records have versions delivered after it
    assert wh.query("select count(*) from intermediate.int_record_versions where batch_date > cast(? as date)",
                    [PAST_AS_OF])[0][0] > 0
