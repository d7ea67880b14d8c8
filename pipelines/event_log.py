"""The run history's event log: Dagster's SQLite storage, whose batch write takes one
transaction per database instead of two or three per event, on connections it keeps open.

When a run is created Dagster records what it plans — one event per asset and per asset
check of the job, about 200 for the landing job (every dbt model and test) — and it sends
them as one batch when ``DAGSTER_EVENT_BATCH_SIZE`` is above 0 (the credit CLI, ``make``
and ``credit ui`` set it; see ``pipelines.cli.prepare_environment``). Dagster's SQLite
storage writes a batch one event at a time, each opening and committing the run's
database and the cross-run index once or twice (about 8 ms an event: 1.5 s of every
run's start on 2 cores, docs/performance.md). This storage writes the planned events of
a batch in one transaction on the run's database and one on the index, with the same
rows: the statements are Dagster's own (``store_event``'s, in the same order); any other
batch, and every single event, goes through Dagster's ``store_event`` unchanged.

Every other event is one transaction as in Dagster's storage, but on a connection this
storage keeps open: Dagster's opens a new engine and connection for every transaction and
closes them after it, and closing the last connection to a database makes SQLite copy its
write-ahead log into the file and delete the log — 5 to 7 ms an event, ~450 events in a
landing run (each an asset check, a step's start, output or end, a log line). The kept
connections (one per database, the few most recently used, all used under Dagster's
per-storage lock, as its own connections are) take 1.5 to 2.5 ms. After a transaction
that wrote to a run's database the log is copied into the file at once (a passive
checkpoint): the Dagster UI follows a running run by watching that file change, so it
still sees every event as it is written. A forked process opens its own connections; the
connections are closed when the instance is disposed and before ``wipe`` deletes files.

Configured in ``dagster.yaml`` (``event_log_storage``); ``base_dir`` defaults to
``$DAGSTER_HOME/history/runs``, where Dagster's default SQLite storage keeps it, so an
existing run history stays readable."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dagster._check as check
from dagster._config import Field, StringSource
from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.events import ASSET_CHECK_EVENTS, ASSET_EVENTS, DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SqliteEventLogStorage,
)
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool, StaticPool

# The events this storage writes in one transaction per database: what Dagster sends as a
# batch when a run is created. (A batch of anything else is written event by event.)
PLANNED = frozenset({DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
                     DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED})

# Databases whose connection is kept open, the most recently used (the index and the runs
# being written; the UI reading many runs' logs reopens the others as it reads them).
OPEN_SHARDS = 8


def default_base_dir() -> str:
    return os.path.join(os.environ.get("DAGSTER_HOME", "."), "history", "runs")


class BatchingSqliteEventLogStorage(SqliteEventLogStorage):
    """:class:`SqliteEventLogStorage` with :meth:`store_event_batch` in one transaction per
    database for the planned events of a run, and every transaction on a kept connection
    (:meth:`_connect`)."""

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None):
        # (set first: the parent's __init__ reads the index)
        self._batch = threading.local()
        self._engines: OrderedDict[str, Engine] = OrderedDict()  # shard -> engine of one kept connection
        self._engines_pid = os.getpid()
        self._tables: set[str] = set()  # tables seen in the index (has_table)
        super().__init__(base_dir or default_base_dir(), inst_data=inst_data)

    @classmethod
    def config_type(cls) -> Any:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None,  # type: ignore[override]
                          config_value: Any) -> BatchingSqliteEventLogStorage:
        return cls(inst_data=inst_data, **dict(config_value or {}))

    def _engine(self, shard: str) -> Engine:
        """The engine holding the shard's kept connection (called under ``_db_lock``)."""
        if self._engines_pid != os.getpid():
            # a forked child: the connections are the parent's, never to be used (nor
            # closed) here
            self._engines, self._engines_pid = OrderedDict(), os.getpid()
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        if shard not in self._initialized_dbs:
            # Dagster's set-up of a new database (tables, WAL mode, migrations' stamp), on an
            # engine of its own as in Dagster: it opens more than one connection at a time
            fresh = create_engine(self.conn_string_for_shard(shard), poolclass=NullPool,
                                  connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
            try:
                self._initdb(fresh)
            finally:
                fresh.dispose()
            self._initialized_dbs.add(shard)
        # one connection, used by one thread at a time (under _db_lock)
        engine = create_engine(self.conn_string_for_shard(shard), poolclass=StaticPool,
                               connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False})
        self._engines[shard] = engine
        while len(self._engines) > OPEN_SHARDS:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:  # type: ignore[override]
        """Dagster's ``_connect`` (one transaction, under the storage's lock) on the shard's
        kept connection; a transaction that wrote to a run's database is checkpointed, so
        the file that UI watchers follow changes as before."""
        with self._db_lock:
            check.str_param(shard, "shard")
            engine = self._engine(shard)
            with engine.connect() as conn:
                dbapi = conn.connection.dbapi_connection
                changes = dbapi.total_changes
                with conn.begin():
                    yield conn
                if shard != INDEX_SHARD_NAME and dbapi.total_changes != changes:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def _close_connections(self) -> None:
        with self._db_lock:
            engines, self._engines = self._engines, OrderedDict()
            if self._engines_pid == os.getpid():
                for engine in engines.values():
                    engine.dispose()

    def dispose(self) -> None:
        super().dispose()
        self._close_connections()

    def wipe(self) -> None:
        self._close_connections()  # (before the files are deleted under them)
        super().wipe()

    def has_table(self, table_name: str) -> bool:
        # asked for every asset check event (whether the index has the checks' table):
        # a table once there stays, so a yes is remembered
        if table_name in self._tables:
            return True
        found = super().has_table(table_name)
        if found:
            self._tables.add(table_name)
        return found

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
