"""Delta builds (dbt_project/macros/delta.sql): after a delivery, recomputing only the
changed subjects leaves every intermediate model and mart exactly as a full build of the
same data does.

World 1 (the policy scenario) is built in full. World 2 = world 1 plus a delivery that
exercises every kind of change: new records of existing subjects, a re-delivery that
supersedes a record, a new subject with its register entry, a reference re-resolved to
another subject, a subject merged into another (it disappears), a record whose subject
becomes unresolvable (NULL), a natural person's record, a repair and an objection. The
changed subjects are logged the way code governance logs them (codes.subject_changes,
computed here by diffing the two worlds' codes tables); world 1's warehouse gets world 2's
raw and codes tables and a delta build; a fresh warehouse of world 2 gets a full build.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from unittest import mock

import duckdb
import pytest
from dbt_scenario import AS_OF, NAMED, PERSON, D, _uscc, build

from pipelines.settings import PROJECT_ROOT
from pipelines.warehouse.delta import BuildPlan, dbt_build_args
from pipelines.warehouse.fingerprint import VOLATILE

DBT_DIR = PROJECT_ROOT / "dbt_project"
SRC = {"source_dept": "测试部门", "source_dept_uscc": _uscc(999)}


def _dbt(root: Path, data_dir: Path, variables: dict) -> None:
    from dbt.cli.main import dbtRunner

    common = ["--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
              "--target-path", str(root / "target"), "--log-path", str(root / "logs"), "--quiet"]
    # the arguments the pipeline gives dbt for a full or a delta build
    plan = BuildPlan("delta" if variables.get("delta") else "full", "test", variables["as_of"], "",
                     since_generation=variables.get("since_generation"))
    manifest = json.loads((root / "target" / "manifest.json").read_text()) if plan.is_delta else None
    with mock.patch.dict(os.environ, {"CREDIT_DATA_DIR": str(data_dir), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
                                      **plan.dbt_env()}):
        res = dbtRunner().invoke([*dbt_build_args(plan, manifest), *common])
    assert res.success, [
        (r.node.name, str(r.status), r.message) for r in (res.result or [])
        if str(r.status) not in ("success", "pass")
    ] or res.exception
    if manifest is not None:
        # the seeds' own tests ran with the full build; the tests joining a model to a seed run
        ran = {r.node.unique_id for r in res.result}
        tests = {k: n for k, n in manifest["nodes"].items() if n["resource_type"] == "test"}
        seed_only = {k for k, n in tests.items() if all(p.startswith("seed.") for p in n["depends_on"]["nodes"])}
        to_seeds = {k for k, n in tests.items() if k not in seed_only
                    and any(p.startswith("seed.") for p in n["depends_on"]["nodes"])}
        assert seed_only and to_seeds and not seed_only & ran and to_seeds <= ran
        assert {k for k in tests if k not in seed_only} <= ran


def _deliver_world_2(w) -> None:
    """The second delivery, applied to world 1's TinyWarehouse in place."""
    fillers = [s["subject_id"] for s in w.subjects if s["name"].startswith("填充")]
    # new records of existing subjects (a serious penalty, an inspection)
    w.add("admin_penalty", fillers[1], "20260601", decision_no="CF-N1", violation_type="违法", facts="事实",
          legal_basis="依据", penalty_kinds="责令停产停业", content="内容", decided_on=D(2026, 5, 20),
          authority="市场监督管理局", authority_uscc=_uscc(998), **SRC)
    w.add("inspection", fillers[2], "20260601", inspection_no="JC-N2", inspected_on=D(2026, 5, 2),
          inspected_by="市场监督管理局", result="发现问题待后续处理", **SRC)
    # a re-delivery superseding a record (same document number, later batch)
    w.add("admin_penalty", NAMED["expired"], "20260602", decision_no="CF-5", violation_type="违法",
          facts="事实", legal_basis="依据", penalty_kinds="罚款", content="内容", fine=5.0,
          decided_on=D(2026, 4, 10), authority="市场监督管理局", authority_uscc=_uscc(998), **SRC)
    # a new subject with its register entry and an honour
    new = _uscc(5000)
    w.subject(new, "新设立有限公司", established_on=D(2026, 1, 5), registered_capital=100.0)
    w.add("registration", new, "20260601", uscc=new, name="新设立有限公司", established_on=D(2026, 1, 5),
          registered_capital=100.0, status="存续", source_dept="市场监督管理局", source_dept_uscc=_uscc(999))
    w.add("honor", new, "20260601", "fgw", honor_name="诚信示范企业", level="省级", granted_by="省政府",
          granted_on=D(2026, 5, 1), **SRC)
    # a reference re-resolved to another subject
    moved = next(r for r in w.rows["admin_penalty"] if r["_subject_id"] == fillers[3]) \
        if any(r["_subject_id"] == fillers[3] for r in w.rows["admin_penalty"]) else None
    if moved is None:
        moved = w.add("admin_penalty", fillers[3], "20260105", decision_no="CF-M3", violation_type="违法",
                      facts="事实", legal_basis="依据", penalty_kinds="罚款", content="内容", fine=3.0,
                      decided_on=D(2025, 12, 1), authority="市场监督管理局", authority_uscc=_uscc(998), **SRC)
    moved["_subject_id"] = fillers[4]
    # a subject merged into another: its records move, it disappears from the register
    gone = fillers[5]
    w.add("tax_credit_rating", gone, "20250420", "swj", year=2024, rating="A", **SRC)
    for rows in w.rows.values():
        for r in rows:
            if r["_subject_id"] == gone:
                r["_subject_id"] = fillers[6]
    w.subjects = [s for s in w.subjects if s["subject_id"] != gone]
    # a record whose subject can no longer be resolved
    w.add("inspection", fillers[7], "20260601", inspection_no="JC-N7", inspected_on=D(2026, 5, 3),
          inspected_by="市场监督管理局", result="未发现问题", **SRC)["_subject_id"] = None
    # a natural person's new penalty, a repair and an objection
    w.add("admin_penalty", PERSON, "20260603", decision_no="CF-P2", violation_type="违法", facts="事实",
          legal_basis="依据", penalty_kinds="罚款", content="内容", fine=1.0, decided_on=D(2026, 5, 1),
          authority="市场监督管理局", authority_uscc=_uscc(998), subject_kind="自然人", subject_name="张三",
          id_type="身份证", **SRC)
    w.add("credit_repair", NAMED["serious"], "20260603", "fgw", repaired_category="serious_dishonesty_list",
          repaired_record_no="SX-2", repair_way="移出名单", repaired_on=D(2026, 5, 15), decided_by="发改委", **SRC)
    w.add("objection", NAMED["both"], "20260603", "fgw", objection_no="YY-8",
          objected_category="serious_dishonesty_list", objected_record_no="SX-8",
          raised_on=D(2026, 5, 20), status="处理中", **SRC)


def _log_changes(con: duckdb.DuckDBPyConnection, generation: int) -> int:
    """codes.subject_changes for the difference between the attached world-1 codes tables
    (w1) and this warehouse's: old and new subject of every reference added, removed or
    changed; every subject row added, removed or changed (NULL subject ids included)."""
    con.execute(f"""
        insert into codes.subject_changes
        with refs as (
            select a.subject_id as s0, b.subject_id as s2,
                   a.record_id is not null as in_w1, b.record_id is not null as in_w2
            from w1.codes.subject_refs as a
            full outer join codes.subject_refs as b on a.record_id = b.record_id
            where a is distinct from b
        ),
        subjects as (
            (select * from w1.codes.subjects except select * from codes.subjects)
            union all
            (select * from codes.subjects except select * from w1.codes.subjects)
        )
        select {generation}, s0 from refs where in_w1
        union select {generation}, s2 from refs where in_w2
        union select {generation}, subject_id from subjects
    """)
    return con.execute(f"select count(*) from codes.subject_changes where generation = {generation}").fetchall()[0][0]


def _tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return [tuple(r) for r in con.execute("""
        select table_schema, table_name from information_schema.tables
        where table_schema in ('intermediate', 'marts') and table_type = 'BASE TABLE'
          and table_name <> 'int_delta_subjects'
        order by 1, 2""").fetchall()]


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("delta")
    dir1, dir2 = root / "w1", root / "w2"
    db1, db2 = dir1 / "warehouse" / "credit.duckdb", dir2 / "warehouse" / "credit.duckdb"
    w = build(db1)
    _dbt(root, dir1, {"as_of": AS_OF})
    con = duckdb.connect(str(db1))
    before = {t: con.execute(f"select count(*) from {t[0]}.{t[1]}").fetchall()[0][0] for t in _tables(con)}
    grades_before = dict(con.execute(
        "select subject_id, evaluated_at from marts.credit_grades where as_of = ?", [AS_OF]).fetchall())
    con.close()

    _deliver_world_2(w)
    w.path = db2
    db2.parent.mkdir(parents=True)
    w.write()
    # world 1's warehouse gets world 2's raw and codes tables and the change log
    con = duckdb.connect(str(db1))
    con.execute(f"attach '{db2}' as w2 (read_only)")
    con.execute("attach ':memory:' as w1")
    con.execute("create schema w1.codes")
    for t in ("subject_refs", "subjects"):
        con.execute(f"create table w1.codes.{t} as select * from codes.{t}")
    schemas = [r[0] for r in con.execute(
        "select distinct table_schema from information_schema.tables where table_catalog = 'w2'").fetchall()]
    for schema in schemas:
        for (t,) in con.execute("select table_name from information_schema.tables "
                                "where table_catalog = 'w2' and table_schema = ?", [schema]).fetchall():
            con.execute(f"create or replace table {schema}.{t} as select * from w2.{schema}.{t}")
    changed = _log_changes(con, 1)
    con.execute("detach w2")
    con.execute("detach w1")
    con.close()

    _dbt(root, dir1, {"as_of": AS_OF, "delta": True, "since_generation": 0})
    run_sql = root / "target" / "run" / "credit_warehouse" / "models" / "intermediate" / "int_record_versions.sql"
    delta_sql = run_sql.read_text(encoding="utf-8")
    _dbt(root, dir2, {"as_of": AS_OF})
    return {"db1": db1, "db2": db2, "changed": changed, "before": before, "grades_before": grades_before,
            "delta_sql": delta_sql, "full_sql": run_sql.read_text(encoding="utf-8")}


def test_delta_build_equals_full_build(worlds):
    # (dbt keeps both files open in this process: each is read through its own connection)
    con = duckdb.connect(str(worlds["db1"]))
    full = duckdb.connect(str(worlds["db2"]))
    try:
        tables = _tables(con)
        assert ("marts", "credit_grades") in tables and ("intermediate", "int_record_states") in tables
        assert ("marts", "sampling_candidates") in tables
        assert tables == _tables(full)
        for schema, table in tables:
            cols = [c for (c,) in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position", [schema, table]).fetchall()
                if c not in VOLATILE]
            sel = ", ".join(f'"{c}"' for c in cols)
            con.register("full_rows", full.sql(f"select {sel} from {schema}.{table}").to_arrow_table())
            only_delta = con.execute(f"select count(*) from (select {sel} from {schema}.{table} except all "
                                     f"select {sel} from full_rows)").fetchall()[0][0]
            only_full = con.execute(f"select count(*) from (select {sel} from full_rows "
                                    f"except all select {sel} from {schema}.{table})").fetchall()[0][0]
            con.unregister("full_rows")
            assert (only_delta, only_full) == (0, 0), \
                f"{schema}.{table}: {only_delta} row(s) only in the delta build, {only_full} only in the full build"
    finally:
        con.close()
        full.close()


def test_delta_build_recomputed_only_the_changed_subjects(worlds):
    con = duckdb.connect(str(worlds["db1"]))
    try:
        delta = {r[0] for r in con.execute("select subject_id from intermediate.int_delta_subjects").fetchall()}
        assert None in delta  # the record whose subject became unresolvable
        assert len(delta) == worlds["changed"]
        assert 5 <= len(delta) < 40, delta  # a handful of the ~140 subjects
        after = dict(con.execute("select subject_id, evaluated_at from marts.credit_grades where as_of = ?",
                                 [AS_OF]).fetchall())
    finally:
        con.close()
    before = worlds["grades_before"]
    kept = [s for s in after if s not in delta and s in before]
    assert kept and all(after[s] == before[s] for s in kept), "unchanged subjects' grades were rewritten"
    redone = [s for s in after if s in delta and s in before]
    assert redone and all(after[s] > before[s] for s in redone)
    assert _uscc(5000) in after and _uscc(5000) not in before
    assert any(s not in after for s in before)  # the merged subject is gone


def test_delta_build_leaves_the_vacuum_to_the_next_full_build(worlds):
    """The delta strategy switches DuckDB's vacuum off before its delete (the checkpoint at
    the end of the build would rewrite the row groups it touched); a full build, which
    writes every table anew, does not need to."""
    delta, full = worlds["delta_sql"], worlds["full_sql"]
    assert "set max_vacuum_tasks = 0;" in delta
    assert delta.index("set max_vacuum_tasks") < delta.index("delete from")
    assert "max_vacuum_tasks" not in full and "delete from" not in full


def _record_id_test_passes(root: Path, data_dir: Path, delta: bool) -> bool:
    from dbt.cli.main import dbtRunner

    plan = BuildPlan("delta" if delta else "full", "test", AS_OF, "", since_generation=0 if delta else None)
    with mock.patch.dict(os.environ, {"CREDIT_DATA_DIR": str(data_dir), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
                                      **plan.dbt_env()}):
        res = dbtRunner().invoke(["test", "--select", "unique_credit_records_record_id",
                                  "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
                                  "--target-path", str(root / "target"), "--log-path", str(root / "logs"), "--quiet"])
    assert res.result is not None, res.exception
    # (the results hold the project's on-run-start hook too)
    tests = [r for r in res.result if r.node.resource_type == "test"]
    assert len(tests) == 1, res.result
    return str(tests[0].status) == "pass"


@pytest.mark.parametrize("subject", ["changed", "unchanged"])
def test_delta_build_record_id_uniqueness_reads_the_changed_rows(worlds, tmp_path, subject):
    """In a delta build the uniqueness of credit_records.record_id (a key without subject_id)
    is tested on the record ids of the changed subjects' rows: a changed row that takes an
    unchanged row's id fails it; two unchanged rows sharing an id are the previous build's
    (its full test found them) and are not read again."""
    data_dir = tmp_path / subject
    (data_dir / "warehouse").mkdir(parents=True)
    db = data_dir / "warehouse" / "credit.duckdb"
    shutil.copyfile(worlds["db1"], db)
    con = duckdb.connect(str(db))
    try:
        changed = con.execute("select subject_id from intermediate.int_delta_subjects "
                              "where subject_id is not null order by 1 limit 1").fetchall()[0][0]
        unchanged = """select * from intermediate.int_record_states where subject_id is not null
                       and subject_id not in (select subject_id from intermediate.int_delta_subjects
                                              where subject_id is not null)
                       order by record_id limit 1"""
        # a second row with an unchanged record's id: of a changed subject, or of the same one
        con.execute(f"insert into intermediate.int_record_states select * replace "
                    f"({'?' if subject == 'changed' else 'subject_id'} as subject_id) from ({unchanged})",
                    [changed] if subject == "changed" else [])
        assert con.execute("select count(*) - count(distinct record_id) from marts.credit_records").fetchall()[0][0] == 1
    finally:
        con.close()
    root = tmp_path / f"dbt_{subject}"
    assert _record_id_test_passes(root, data_dir, delta=True) is (subject == "unchanged")
    assert _record_id_test_passes(root, data_dir, delta=False) is False  # a full build reads every row
