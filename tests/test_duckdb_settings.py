"""Every warehouse connection — the Dagster resource (read-write and read-only), the
ingestion's own and dbt's profile — gets the memory cap and the checkpoint threshold
from the same two variables (pipelines/settings.py); the landing job's writers leave
DuckDB's vacuum to the next writer (pipelines/defs/resources.py DEFER_VACUUM)."""

from __future__ import annotations

from pathlib import Path

import yaml

from pipelines.defs.resources import WarehouseResource
from pipelines.ingest import ingest_inbox
from pipelines.settings import Paths

ROOT = Path(__file__).resolve().parents[1]


def _settings(con) -> tuple[str, str]:
    return con.execute("SELECT current_setting('memory_limit'), current_setting('checkpoint_threshold')").fetchone()


def test_every_connection_checkpoints_after_the_configured_wal_size(tmp_path, monkeypatch):
    monkeypatch.setenv("CREDIT_DUCKDB_CHECKPOINT_THRESHOLD", "300MB")
    monkeypatch.setenv("CREDIT_DUCKDB_MEMORY_LIMIT", "1GB")
    res = WarehouseResource(data_dir=str(tmp_path))
    with res.connect(read_only=False) as con:
        rw = _settings(con)
    with res.connect(read_only=True) as con:
        ro = _settings(con)
    assert rw == ro and rw[1] == "286.1 MiB" and rw[0] == "953.6 MiB"  # DuckDB's spelling of 300MB / 1GB

    seen = []
    import pipelines.ingest.load as load

    real = load.ensure_tables
    monkeypatch.setattr(load, "ensure_tables", lambda con, cat: (seen.append(_settings(con)), real(con, cat)))
    from pipelines.catalogue import load_catalogue

    ingest_inbox(Paths(tmp_path / "ingest").ensure(), load_catalogue(), key=b"k")
    assert seen == [rw]

    monkeypatch.delenv("CREDIT_DUCKDB_CHECKPOINT_THRESHOLD")
    with res.connect(read_only=False) as con:
        assert _settings(con)[1] == "953.6 MiB"  # the 1GB default, not DuckDB's 16 MB


def test_the_dbt_profile_reads_the_same_variables():
    profile = yaml.safe_load((ROOT / "dbt_project" / "profiles.yml").read_text(encoding="utf-8"))
    settings = profile["credit_warehouse"]["outputs"]["duckdb"]["settings"]
    assert "env_var('CREDIT_DUCKDB_CHECKPOINT_THRESHOLD', '1GB')" in settings["checkpoint_threshold"]
    assert "env_var('CREDIT_DUCKDB_MEMORY_LIMIT', '6GB')" in settings["memory_limit"]


def _row_groups(con, table: str) -> int:
    return con.execute(f"SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('{table}')").fetchone()[0]


def test_a_writer_without_vacuum_leaves_the_merge_to_the_next_checkpoint(tmp_path):
    """vacuum=False (the landing job's writers): after a delta-style delete and re-insert
    (2 % of the rows, as dbt's delta strategy and code governance do) the checkpoint keeps
    the row groups the delete thinned out beside the ones the insert appended; the next
    writer with vacuum merges them — whatever it writes."""
    def delta(res: WarehouseResource, vacuum: bool, part: int) -> int:
        with res.connect(read_only=False, vacuum=vacuum) as con:
            assert con.execute("SELECT current_setting('max_vacuum_tasks')").fetchone()[0] == (100 if vacuum else 0)
            con.execute(f"CREATE TEMP TABLE k AS SELECT * FROM t WHERE s % 50 = {part}")
            con.execute(f"DELETE FROM t WHERE s % 50 = {part}")
            con.execute("INSERT INTO t SELECT * FROM k")
        with res.connect(read_only=True) as con:
            assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 1_000_000
            return _row_groups(con, "t")

    counts = {}
    for vacuum in (True, False):
        res = WarehouseResource(data_dir=str(tmp_path / str(vacuum)))
        with res.connect(read_only=False) as con:
            con.execute("CREATE TABLE t AS SELECT range AS id, range % 1000 AS s, 'record ' || range AS v "
                        "FROM range(1000000)")
        counts[vacuum] = delta(res, vacuum, 0)
        if not vacuum:
            with res.connect(read_only=False) as con:
                con.execute("CREATE TABLE other (x INT)")  # an unrelated write, with vacuum
            with res.connect(read_only=True) as con:
                counts["next"] = _row_groups(con, "t")
    assert counts[False] > counts[True] and counts["next"] < counts[False], counts


def test_only_runs_tagged_so_defer_the_vacuum():
    from types import SimpleNamespace

    from pipelines.defs.resources import DEFER_VACUUM_TAG, vacuum_in

    assert vacuum_in(SimpleNamespace(run=SimpleNamespace(tags=DEFER_VACUUM_TAG))) is False
    assert vacuum_in(SimpleNamespace(run=SimpleNamespace(tags={"credit/trigger": "cli"}))) is True
    assert vacuum_in(None) is True
