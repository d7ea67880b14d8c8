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
    def connect(self, read_only: bool | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        ro = self.read_only if read_only is None else read_only
        path = self.path
        if not ro:
            self.paths.ensure()
        con = duckdb.connect(str(path), read_only=ro, config=duckdb_config())
        try:
            yield con
        finally:
            con.close()


defs = dg.Definitions(resources={"warehouse": WarehouseResource()})
