"""The incremental path end to end (`credit run` through Dagster): after a new delivery,
code governance resolves only what changed and the evaluation is a delta build of the
changed subjects — and the warehouse ends exactly as a full rebuild leaves it."""

from __future__ import annotations

import duckdb

from pipelines.bench.pipeline import write_increment
from pipelines.cli import main
from pipelines.warehouse.fingerprint import table_fingerprints

AS_OF = "2026-11-20"
# Ingestion, code governance and the evaluation (dbt, with the sampling models): the
# quality report and the extracts read the same tables and are tested elsewhere.
SELECT = "group:ingest or group:codes or group:transform"


def _run(*extra: str) -> None:
    assert main(["run", "--as-of", AS_OF, "--select", SELECT, *extra]) == 0


def _state(warehouse) -> tuple[dict, dict, list, tuple]:
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


def test_a_new_delivery_is_resolved_and_evaluated_incrementally(credit_env, capsys):
    assert main(["demo-data", "--subjects", "400", "--seed", "11", "--batches", "2"]) == 0
    warehouse = credit_env / "warehouse" / "credit.duckdb"
    _run()
    first, _, builds, resolution = _state(warehouse)
    assert [b[0] for b in builds] == ["full"] and builds[0][2] == "success"
    assert resolution == ("full", True)

    # A later delivery: new subjects with their records, re-deliveries superseding records.
    inc = write_increment(credit_env, share=0.05, seed=5)
    assert inc["new_rows"] > 0 and inc["redelivered_rows"] > 0
    _run()
    delta, codes_delta, builds, resolution = _state(warehouse)
    assert resolution == ("incremental", False)
    mode, reason, status, changed = builds[-1]
    assert (mode, status) == ("delta", "success"), reason
    subjects = first["marts.subjects"][0]
    assert 0 < changed < subjects * 0.3
    assert delta != first  # the delivery changed the evaluation

    # Nothing new: another delta build of nothing, the same tables; dbt starts from the
    # parse state the last build kept instead of parsing the whole project again.
    _run()
    again, _, builds, _ = _state(warehouse)
    assert builds[-1][0] == "delta" and builds[-1][3] == 0
    assert again == delta
    log = _last_dbt_log()
    assert "Partial parsing enabled" in log and "Unable to do partial parsing" not in log

    # A full rebuild from all records gives exactly the delta-built tables.
    _run("--full-build")
    full, codes_full, builds, _ = _state(warehouse)
    assert builds[-1][0] == "full" and "full build asked for" in builds[-1][1]
    assert codes_full == codes_delta
    different = {t: (delta.get(t), full.get(t)) for t in set(delta) | set(full) if delta.get(t) != full.get(t)}
    assert not different, different
    capsys.readouterr()
