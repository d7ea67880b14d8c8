"""Every warehouse connection — the Dagster resource (read-write and read-only), the
ingestion's own and dbt's profile — gets the memory cap and the checkpoint threshold
from the same two variables (pipelines/settings.py)."""

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
