"""Where everything lives. One variable, ``CREDIT_DATA_DIR``, is shared by Dagster,
dbt, the CLI and the notebooks; everything else is derived from it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _catalog_dir() -> Path:
    return Path(os.environ.get("CREDIT_CATALOG_DIR", PROJECT_ROOT / "catalogs")).resolve()


@dataclass(frozen=True)
class Paths:
    data_dir: Path

    @classmethod
    def from_env(cls) -> Paths:
        return cls(Path(os.environ.get("CREDIT_DATA_DIR", PROJECT_ROOT / "data")).resolve())

    @property
    def inbox(self) -> Path:
        return self.data_dir / "inbox"

    @property
    def sources(self) -> Path:
        return self.data_dir / "sources"

    @property
    def archive(self) -> Path:
        return self.data_dir / "archive"

    @property
    def warehouse_dir(self) -> Path:
        return self.data_dir / "warehouse"

    @property
    def warehouse(self) -> Path:
        return self.warehouse_dir / "credit.duckdb"

    @property
    def dbt_state(self) -> Path:
        """dbt's parse state of the last successful build against this warehouse."""
        return self.warehouse_dir / "dbt_state"

    @property
    def exports(self) -> Path:
        return self.data_dir / "exports"

    @property
    def reports(self) -> Path:
        return self.data_dir / "reports"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster_home"

    def ensure(self) -> Paths:
        for p in (self.inbox, self.archive, self.warehouse_dir, self.exports, self.reports):
            p.mkdir(parents=True, exist_ok=True)
        return self


def catalog_dir() -> Path:
    return _catalog_dir()


def duckdb_memory_limit() -> str:
    """DuckDB's memory cap for every warehouse connection (dbt reads the same variable):
    by default DuckDB would take 80% of the machine's RAM."""
    return os.environ.get("CREDIT_DUCKDB_MEMORY_LIMIT", "6GB")


def duckdb_checkpoint_threshold() -> str:
    """WAL size at which DuckDB checkpoints (dbt reads the same variable). DuckDB's 16 MB
    default checkpoints after nearly every large write — after each delivered file, each
    dbt model — and at 10M records those checkpoints cost 20 s of the ingest alone. Large
    inserts are written to the database file directly and the WAL only points to them, so
    1 GB of WAL is rarely reached; the connection checkpoints when it closes, and a crash
    is recovered from the WAL as before."""
    return os.environ.get("CREDIT_DUCKDB_CHECKPOINT_THRESHOLD", "1GB")


def duckdb_config(*, vacuum: bool = True) -> dict[str, str]:
    """The settings of every read-write warehouse connection. ``vacuum=False``: its
    checkpoints write deletes as they are instead of merging and rewriting the row groups
    they touched (DuckDB's ``max_vacuum_tasks``); the next checkpoint with vacuum does it
    (the landing job leaves it to the scheduled runs: ``pipelines.defs.resources``)."""
    config = {"memory_limit": duckdb_memory_limit(), "checkpoint_threshold": duckdb_checkpoint_threshold()}
    if not vacuum:
        config["max_vacuum_tasks"] = "0"
    return config
