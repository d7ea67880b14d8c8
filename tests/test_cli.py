"""`credit` end to end on a small synthetic inbox: demo-data, the landing run, a run with
nothing new, the service-window commands, then a later delivery — resolved and evaluated
incrementally — and a full rebuild that must leave the warehouse exactly as the
incremental path did."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.bench.pipeline import write_increment
from pipelines.cli import build_parser, main, prepare_environment
from pipelines.settings import PROJECT_ROOT
from pipelines.warehouse.fingerprint import table_fingerprints

DEFS_DIR = PROJECT_ROOT / "pipelines" / "defs"


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("demo-data", "run", "pull", "check-code", "lookup", "report", "redraw", "ui"):
        assert cmd in out


def test_run_rejects_a_bad_date(credit_env):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["run", "--as-of", "2026-13-01"])
    assert e.value.code == 2


def test_run_takes_a_selection_or_the_landing_job_not_both(credit_env):
    args = build_parser().parse_args(["run", "--landing"])
    assert args.landing and args.select is None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--landing", "--select", "group:ingest"])


def test_prepare_environment_sets_dagster_home(credit_env, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME")
    paths = prepare_environment()
    import os

    assert os.environ["DAGSTER_HOME"] == str(paths.dagster_home)
    assert (paths.dagster_home / "dagster.yaml").is_file()
    assert os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "False"


def test_check_code_delegates(capsys):
    pytest.importorskip("pipelines.codes.cli")
    assert main(["check-code", "91350100M000100Y43"]) == 0


def _snapshot(warehouse) -> dict[str, list]:
    """Every table's rows, sorted, minus nothing: a second run must change nothing."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('raw', 'audit', 'codes') order by 1, 2").fetchall()
        return {f"{s}.{t}": sorted(map(repr, con.execute(f'select * from "{s}"."{t}"').fetchall()))
                for s, t in tables}
    finally:
        con.close()


def _state(warehouse) -> tuple[dict, dict, list, tuple]:
    """The evaluation's tables and code governance's (fingerprints), the dbt build log and
    the last resolution's mode."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        evaluation = table_fingerprints(con)
        codes = table_fingerprints(con, schemas=("codes",), exclude_tables=("resolution_state", "subject_changes"))
        builds = con.execute("select mode, reason, status, changed_subjects from audit.dbt_builds "
                             "order by build_id").fetchall()
        resolution = con.execute("select mode, all_changed from codes.resolution_state "
                                 "order by generation desc limit 1").fetchall()[0]
    finally:
        con.close()
    return evaluation, codes, builds, resolution


def _last_dbt_log() -> str:
    """The dbt log of the last run's dbt build (dagster-dbt's folder of that invocation)."""
    from dagster import DagsterInstance

    from pipelines.defs.transform import credit_dbt_project

    with DagsterInstance.get() as instance:
        run_id = instance.get_runs(limit=1)[0].run_id
    target = credit_dbt_project.project_dir / credit_dbt_project.target_path
    (folder,) = target.glob(f"credit_dbt-{run_id[:7]}-*")
    return (folder / "dbt.log").read_text(encoding="utf-8")


def _partial_parse(log: str) -> bool:
    return "Partial parsing enabled" in log and "Unable to do partial parsing" not in log


@pytest.mark.slow
def test_demo_data_then_run_then_a_later_delivery(credit_env, capsys, monkeypatch):
    from pipelines.quality import early

    # Early validation switched on (off by default on 2 cores): the run is in-process.
    real = early.settings
    monkeypatch.setattr(early, "settings", lambda c: {**real(c), "enabled": True})
    assert main(["demo-data", "--subjects", "300", "--seed", "7", "--batches", "1"]) == 0
    assert any((credit_env / "inbox").rglob("*.*"))

    # Every warehouse connection the runs open: (read-only, vacuum).
    from pipelines.defs.resources import WarehouseResource

    connections: list[tuple[bool, bool]] = []
    real_connect = WarehouseResource.connect

    def spy_connect(self, read_only=None, *, vacuum=True):
        connections.append((self.read_only if read_only is None else read_only, vacuum))
        return real_connect(self, read_only, vacuum=vacuum)

    monkeypatch.setattr(WarehouseResource, "connect", spy_connect)

    # What the inbox sensor runs when a batch lands: everything but the extracts.
    assert main(["run", "--landing", "--as-of", "2026-11-20"]) == 0
    # ... its writers (ingest, code governance, the dbt step's bookkeeping) leave DuckDB's
    # vacuum to the next scheduled run
    writers = [vacuum for read_only, vacuum in connections if not read_only]
    assert len(writers) >= 4 and not any(writers), connections
    connections.clear()
    out = capsys.readouterr().out
    assert "Files (audit.loads)" in out and "succeeded" in out and "Landing run" in out
    warehouse = credit_env / "warehouse" / "credit.duckdb"
    con = duckdb.connect(str(warehouse), read_only=True)
    n_loads = con.execute("select count(*) from audit.loads").fetchone()[0]
    n_to_validate = con.execute("select count(*) from audit.loads where status in "
                                "('loaded', 'rejected_file') and category is not null").fetchone()[0]
    n_grades = con.execute("select count(*) from marts.credit_grades").fetchone()[0]
    con.close()
    assert n_loads > 0 and n_grades > 0
    assert (credit_env / "reports" / "quality" / "index.html").exists()
    assert not list((credit_env / "exports").glob("*/*/manifest.json"))
    # Nor the great-expectations Data Docs (on schedule too): nothing validated, nothing
    # staged for the early worker, GX not even imported.
    from dagster import AssetKey, DagsterInstance

    def docs_meta():
        with DagsterInstance.get() as instance:
            event = instance.get_latest_materialization_event(AssetKey(["reports", "data_docs"]))
        return event.asset_materialization.metadata if event else None

    gx_dir = credit_env / "reports" / "gx"
    early_dir = gx_dir / "early"
    assert docs_meta() is None and not (gx_dir / "validated_batches.json").exists()
    assert not (early_dir / "manifest.json").exists() and not (early_dir / "worker.log").exists()
    first = _snapshot(warehouse)
    landed, _, builds, resolution = _state(warehouse)
    assert [b[0] for b in builds] == ["full"] and builds[0][2] == "success"
    assert resolution == ("full", True)

    # The whole graph on the same inbox: nothing new to load, the extracts written.
    assert main(["run", "--as-of", "2026-11-20"]) == 0
    writers = [vacuum for read_only, vacuum in connections if not read_only]
    assert len(writers) >= 4 and all(writers), connections  # with DuckDB's vacuum
    out = capsys.readouterr().out
    assert "This run: 0 new file(s)" in out and "Landing run" not in out
    # ... and the landed files validated for the Data Docs: still to validate, so staged
    # by the ingest step (nothing new to load) for the early worker
    meta = docs_meta()
    assert meta["files_validated"].value == meta["files_validated_early"].value == n_to_validate
    assert (gx_dir / "validated_batches.json").exists()
    again = _snapshot(warehouse)
    builds = again.pop("audit.dbt_builds")  # the build log gains this run's (empty) delta build
    assert len(builds) == 2 and "'delta', '0 changed subject(s)" in builds[1]
    assert again == {k: v for k, v in first.items() if k != "audit.dbt_builds"}
    # dbt started from the parse state prepared beside the landing run's full build for
    # the delta build that follows it (start_delta_parse): nothing to re-parse, where the
    # full build's own state had dbt re-parse every model that reads CREDIT_DBT_DELTA
    log = _last_dbt_log()
    assert _partial_parse(log)
    assert "0 files deleted, 0 files added, 0 files changed" in log
    # an empty delta build: the evaluation's tables as the landing run left them
    unchanged, _, builds, _ = _state(warehouse)
    assert builds[-1][0] == "delta" and builds[-1][3] == 0
    assert unchanged == landed
    first = _snapshot(warehouse)

    # Every stage delivered: grades, extracts per department, the quality report.
    con = duckdb.connect(str(warehouse), read_only=True)
    grades = dict(con.execute("select grade, count(*) from marts.credit_grades group by 1").fetchall())
    d_subject = con.execute(
        "select s.uscc from marts.credit_grades g join marts.subjects s using (subject_id) "
        "where g.grade = 'D' and s.uscc is not null order by 1 limit 1").fetchall()
    drawn = con.execute("select department_code, period from marts.inspection_draw "
                        "group by all order by count(*) desc limit 1").fetchall()
    con.close()
    assert set(grades) <= {"A", "B", "C", "D"} and sum(grades.values()) > 0
    manifests = list((credit_env / "exports").glob("*/2026-11-20/manifest.json"))
    assert {m.parent.parent.name for m in manifests} >= {"scjg", "fgw"}
    assert (credit_env / "reports" / "quality" / "index.html").exists()
    capsys.readouterr()

    # The service-window commands on the built warehouse.
    assert d_subject, "the demo data has subjects graded D (lists, 吊销)"
    code = d_subject[0][0]
    assert main(["lookup", code]) == 0
    out = capsys.readouterr().out
    assert "信用等级：D" in out
    assert main(["report", code]) == 0
    page = (credit_env / "reports" / "subjects" / f"{code}.html").read_text(encoding="utf-8")
    assert code in page and "http://" not in page and "https://" not in page
    assert main(["lookup", "不存在的主体名称XYZ"]) == 1
    assert drawn
    dept, period = drawn[0]
    assert main(["redraw", "--department", dept, "--period", period]) == 0
    assert "MATCHES" in capsys.readouterr().out

    # Idempotence of what ingestion and code governance write (the rest is rebuilt from
    # them); the quality report alone takes minutes on 2 cores, so it is not re-run here.
    # A run without the Data Docs stages nothing for the early worker, even with every
    # file to validate again.
    validated = gx_dir / "validated_batches.json"
    kept = validated.read_bytes()
    validated.unlink()
    worker_log = (early_dir / "worker.log").stat().st_size
    assert main(["run", "--as-of", "2026-11-20", "--select", "group:ingest or group:codes"]) == 0
    assert _snapshot(warehouse) == first
    assert not (early_dir / "manifest.json").exists() and (early_dir / "worker.log").stat().st_size == worker_log
    validated.write_bytes(kept)

    # The run history survives in DAGSTER_HOME.
    with DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert len(runs) == 3
        assert runs[0].tags.get("credit/as_of") == "2026-11-20"
        assert [r.job_name for r in runs] == ["credit_pipeline", "credit_pipeline", "credit_landing"]
        # the landing's writers left DuckDB's vacuum to the next run (resources.DEFER_VACUUM)
        assert [r.tags.get("credit/vacuum") for r in runs] == [None, None, "deferred"]

    # A later delivery: new subjects with their records, re-deliveries superseding records.
    # Code governance resolves only what changed and the evaluation is a delta build of
    # the changed subjects (ingestion, codes and dbt: the quality report and the extracts
    # read the same tables and were run above). With the Data Docs in the run, the early
    # worker validates the new files while code governance and dbt run.
    before, _, builds, _ = _state(warehouse)
    assert [b[0] for b in builds] == ["full", "delta"]
    inc = write_increment(credit_env, share=0.05, seed=5)
    assert inc["new_rows"] > 0 and inc["redelivered_rows"] > 0
    evaluation = ["run", "--as-of", "2026-11-20", "--select",
                  "group:ingest or group:codes or group:transform or key:reports/data_docs"]
    assert main(evaluation) == 0
    meta = docs_meta()
    assert 0 < meta["files_validated_early"].value == meta["files_validated"].value <= inc["files"]
    assert not (early_dir / "manifest.json").exists() and not (early_dir / "results.json").exists()
    delta, codes_delta, builds, resolution = _state(warehouse)
    assert resolution == ("incremental", False)
    mode, reason, status, changed = builds[-1]
    assert (mode, status) == ("delta", "success"), reason
    assert 0 < changed < before["marts.subjects"][0] * 0.3
    assert delta != before  # the delivery changed the evaluation
    assert _partial_parse(_last_dbt_log())

    # A full rebuild from all records gives exactly the delta-built tables.
    assert main([*evaluation, "--full-build"]) == 0
    full, codes_full, builds, _ = _state(warehouse)
    assert builds[-1][0] == "full" and "full build asked for" in builds[-1][1]
    assert codes_full == codes_delta
    different = {t: (delta.get(t), full.get(t)) for t in set(delta) | set(full) if delta.get(t) != full.get(t)}
    assert not different, different
    capsys.readouterr()
