"""Shared resources: the warehouse (one DuckDB file under ``CREDIT_DATA_DIR``).

``CREDIT_DATA_DIR`` is read when a run starts, not when the code location loads, so the
CLI, the UI, tests and the dbt profile all resolve the same file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.settings import Paths, duckdb_config

# One writer at a time on the warehouse (limit 1 in dagster.yaml).
WAREHOUSE_POOL = "duckdb_writer"
# Assets delivered on a schedule (the departments' extracts): the whole graph
# (`credit run`, the daily and monthly schedules) writes them, the landing job that the
# inbox sensor starts when a batch lands does not.
SCHEDULED_DELIVERY = ("credit/delivery", "scheduled")
SCHEDULED_DELIVERY_TAG = dict([SCHEDULED_DELIVERY])
# Runs tagged so (the landing job's: a batch landing waits for them) leave DuckDB's vacuum
# to the next run without the tag: at 1M subjects a landing's checkpoints would otherwise
# merge and rewrite the row groups its deletes touched in the 9M-row record tables, about
# 5 s (docs/performance.md, "The delta build's checkpoint"). dbt's delta builds never
# vacuum (dbt_project/macros/delta.sql); the scheduled runs' writers do it.
DEFER_VACUUM = ("credit/vacuum", "deferred")
DEFER_VACUUM_TAG = dict([DEFER_VACUUM])


def vacuum_in(context: dg.OpExecutionContext | dg.AssetExecutionContext | None) -> bool:
    """Whether this run's warehouse writers vacuum (see DEFER_VACUUM)."""
    run = getattr(context, "run", None) if context is not None else None
    tags = dict(run.tags) if run is not None else {}
    return tags.get(DEFER_VACUUM[0]) != DEFER_VACUUM[1]


class WarehouseResource(dg.ConfigurableResource):
    """The credit warehouse ``$CREDIT_DATA_DIR/warehouse/credit.duckdb``.

    ``data_dir`` overrides ``CREDIT_DATA_DIR`` (tests); ``read_only`` opens every
    connection read-only unless ``connect(read_only=False)`` says otherwise."""

    data_dir: str | None = None
    read_only: bool = False

    @property
    def paths(self) -> Paths:
        return Paths(Path(self.data_dir).resolve()) if self.data_dir else Paths.from_env()

    @property
    def path(self) -> Path:
        return self.paths.warehouse

    @contextmanager
    def connect(self, read_only: bool | None = None, *, vacuum: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection; ``vacuum=False`` (a writer of the landing job: ``vacuum_in``)
        leaves DuckDB's vacuum to a later writer's checkpoint."""
        ro = self.read_only if read_only is None else read_only
        path = self.path
        if not ro:
            self.paths.ensure()
        con = duckdb.connect(str(path), read_only=ro, config=duckdb_config(vacuum=vacuum))
        try:
            yield con
        finally:
            con.close()


defs = dg.Definitions(resources={"warehouse": WarehouseResource()})
