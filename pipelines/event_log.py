"""The run history's event log: Dagster's SQLite storage, whose batch write takes one
transaction per database instead of two or three per event.

When a run is created Dagster records what it plans — one event per asset and per asset
check of the job, about 200 for the landing job (every dbt model and test) — and it sends
them as one batch when ``DAGSTER_EVENT_BATCH_SIZE`` is above 0 (the credit CLI, ``make``
and ``credit ui`` set it; see ``pipelines.cli.prepare_environment``). Dagster's SQLite
storage writes a batch one event at a time, each opening and committing the run's
database and the cross-run index once or twice (about 8 ms an event: 1.5 s of every
run's start on 2 cores, docs/performance.md). This storage writes the planned events of
a batch in one transaction on the run's database and one on the index, with the same
rows: the statements are Dagster's own (``store_event``'s, in the same order); any other
batch, and every single event, goes through Dagster's code unchanged.

Configured in ``dagster.yaml`` (``event_log_storage``); ``base_dir`` defaults to
``$DAGSTER_HOME/history/runs``, where Dagster's default SQLite storage keeps it, so an
existing run history stays readable."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dagster._check as check
from dagster._config import Field, StringSource
from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.events import ASSET_CHECK_EVENTS, ASSET_EVENTS, DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._serdes import ConfigurableClassData

# The events this storage writes in one transaction per database: what Dagster sends as a
# batch when a run is created. (A batch of anything else is written event by event.)
PLANNED = frozenset({DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
                     DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED})


def default_base_dir() -> str:
    return os.path.join(os.environ.get("DAGSTER_HOME", "."), "history", "runs")


class BatchingSqliteEventLogStorage(SqliteEventLogStorage):
    """:class:`SqliteEventLogStorage` with :meth:`store_event_batch` in one transaction per
    database for the planned events of a run."""

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None):
        self._batch = threading.local()  # (set first: the parent's __init__ reads the index)
        super().__init__(base_dir or default_base_dir(), inst_data=inst_data)

    @classmethod
    def config_type(cls) -> Any:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None,  # type: ignore[override]
                          config_value: Any) -> BatchingSqliteEventLogStorage:
        return cls(inst_data=inst_data, **dict(config_value or {}))

    @contextmanager
    def index_connection(self) -> Iterator[Any]:  # type: ignore[override]
        conn = getattr(self._batch, "index", None)
        if conn is not None:  # inside store_event_batch: its transaction on the index
            yield conn
            return
        with super().index_connection() as conn:
            yield conn

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        run_ids = {e.run_id for e in events}
        if (len(events) < 2 or len(run_ids) != 1
                or any(not e.is_dagster_event or e.dagster_event_type not in PLANNED for e in events)):
            super().store_event_batch(events)  # event by event, Dagster's own code
            return
        (run_id,) = run_ids
        inserts = [self.prepare_insert_event(e) for e in events]
        # store_event's statements for all the events at once. The index first (asset
        # events with their tags and asset entries, check events with their execution
        # rows), in one transaction the calls below share: if any of it fails, nothing of
        # the batch is written and Dagster's fallback (event by event) writes each once.
        with super().index_connection() as conn:
            self._batch.index = conn
            try:
                for event, statement in zip(events, inserts, strict=True):
                    with db_result(conn, statement) as result:
                        event_id = result.inserted_primary_key[0]
                    if event.dagster_event_type in ASSET_EVENTS:
                        if event_id is None:
                            raise DagsterInvariantViolationError("Cannot store asset event tags for null event id.")
                        self._store_asset_event_tags(conn, [event], [event_id])
                        self._store_asset_event(conn, event, event_id)
                    else:
                        check.invariant(event.dagster_event_type in ASSET_CHECK_EVENTS)
                        self.store_asset_check_event(event, event_id)
            finally:
                self._batch.index = None
        # ... then the run's own database: plain inserts
        with self.run_connection(run_id) as conn:
            for statement in inserts:
                conn.execute(statement)
