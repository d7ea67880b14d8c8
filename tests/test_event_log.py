"""The run history's event log (pipelines/event_log.py): the events a run plans, written
as one batch, leave the same records as Dagster's own SQLite storage writing them one by
one — the run's events, the index, the asset entries and the asset checks' executions."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import dagster as dg
import yaml

from pipelines.event_log import BatchingSqliteEventLogStorage
from pipelines.settings import PROJECT_ROOT


@dg.asset
def first() -> int:
    return 1


@dg.asset(deps=[first])
def second() -> int:
    return 2


@dg.asset_check(asset=first)
def first_positive() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@dg.asset_check(asset=second)
def second_small() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN)


def _run(home: Path, config: dict | None, batch: str | None) -> dict:
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(config or {}), encoding="utf-8")
    env = {"DAGSTER_HOME": str(home), "DAGSTER_DISABLE_TELEMETRY": "1"}
    if batch:
        env["DAGSTER_EVENT_BATCH_SIZE"] = batch
    with mock.patch.dict("os.environ", env), dg.DagsterInstance.get() as instance:
        defs = dg.Definitions(assets=[first, second], asset_checks=[first_positive, second_small],
                              jobs=[dg.define_asset_job("both")])
        with mock.patch.object(BatchingSqliteEventLogStorage, "store_event_batch", autospec=True,
                               side_effect=BatchingSqliteEventLogStorage.store_event_batch) as batched:
            # a run created (what it plans is written) and not started: the planned state
            created = instance.create_run_for_job(defs.resolve_job_def("both"))
            planned_state = _index_rows(home / "history" / "runs" / "index.db", created.run_id)
            result = dg.materialize([first, second, first_positive, second_small], instance=instance)
        assert result.success
        storage = instance.event_log_storage
        events = [(e.dagster_event_type, e.dagster_event.asset_key if e.dagster_event else None)
                  for e in instance.all_logs(result.run_id)]
        checks = {}
        for key, name in ((first.key, "first_positive"), (second.key, "second_small")):
            history = storage.get_asset_check_execution_history(dg.AssetCheckKey(key, name), limit=5)
            checks[name] = [(r.run_id == result.run_id, r.status.value) for r in history]
        planned = {k: storage.get_latest_planned_materialization_info(k) is not None for k in (first.key, second.key)}
        materialized = {k: instance.get_latest_materialization_event(k) is not None for k in (first.key, second.key)}
        index = _index_rows(home / "history" / "runs" / "index.db", created.run_id, result.run_id)
        return {"events": events, "checks": checks, "planned": planned, "materialized": materialized, "index": index,
                "planned_state": planned_state,
                "storage": type(storage).__name__, "batches": [len(c.args[1]) for c in batched.call_args_list]}


def _index_rows(path: Path, *run_ids: str) -> dict:
    """Every row of the cross-run index, per table, without its ids and times (which
    differ from one instance to the other by nature)."""
    import sqlite3

    con = sqlite3.connect(path)
    try:
        out = {}
        for (table,) in con.execute("select name from sqlite_master where type = 'table' and name not like 'alembic%' "
                                    "and name <> 'secondary_indexes'"):  # (migrations' bookkeeping, timed)
            cols = [r[1] for r in con.execute(f"pragma table_info({table})")
                    if r[1] not in ("id", "event_id", "storage_id", "evaluation_event_storage_id",
                                    "materialization_event_storage_id", "create_timestamp", "timestamp",
                                    "event_timestamp", "evaluation_event_timestamp", "last_materialization_timestamp",
                                    "wipe_timestamp", "update_timestamp", "cached_status_data",
                                    "last_materialization", "last_run_id", "asset_details", "last_planned_materialization_event_id",
                                    "last_observation", "event",
                                    "evaluation_event", "materialization_event")
                    and (table, r[1]) != ("asset_event_tags", "value")]  # the data version: run-dependent
            quoted = ", ".join(f'"{c}"' for c in cols) or "1"
            rows = con.execute(f'select {quoted} from "{table}"').fetchall()
            texts = [repr(row) for row in rows]
            for i, run_id in enumerate(run_ids):
                texts = [t.replace(run_id, f"<run {i}>") for t in texts]
            out[table] = sorted(texts)
        return out
    finally:
        con.close()


def test_planned_events_in_one_batch_leave_what_dagster_writes_one_by_one(tmp_path):
    ours = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text(encoding="utf-8"))
    assert ours["event_log_storage"]["class"] == BatchingSqliteEventLogStorage.__name__
    config = {"event_log_storage": ours["event_log_storage"], "telemetry": {"enabled": False}}
    batched = _run(tmp_path / "batched", config, "1000")
    plain = _run(tmp_path / "plain", {"telemetry": {"enabled": False}}, None)
    assert batched["storage"] == "BatchingSqliteEventLogStorage" and plain["storage"] == "SqliteEventLogStorage"
    # the planned events (2 assets, 2 checks) came as one batch, through this storage
    assert batched["batches"] == [4, 4]
    assert plain["batches"] == []
    for k in ("events", "checks", "planned", "materialized", "index", "planned_state"):
        assert batched[k] == plain[k], k
    assert batched["checks"]["second_small"] == [(True, "FAILED"), (False, "PLANNED")]  # (the run created, not started)
    # the run history sits where Dagster's default storage keeps it
    assert any((tmp_path / "batched" / "history" / "runs").glob("*.db"))


def _log_line(run_id: str, i: int):
    import logging
    import time

    from dagster._core.events.log import EventLogEntry

    return EventLogEntry(error_info=None, level=logging.INFO, user_message=f"line {i}", run_id=run_id,
                         timestamp=time.time())


def test_a_watcher_like_the_ui_sees_every_event_as_it_is_written(tmp_path):
    """The UI follows a running run by watching the run's database file: the kept
    connection's writes must reach that file at once, not when the connection closes."""
    import threading

    writer = BatchingSqliteEventLogStorage(str(tmp_path))
    reader = BatchingSqliteEventLogStorage(str(tmp_path))  # (another process, as the UI is)
    seen: list[str] = []
    four = threading.Event()

    def callback(entry, cursor):
        seen.append(entry.user_message)
        if len(seen) >= 4:
            four.set()

    try:
        writer.store_event(_log_line("r1", 1))  # (the run's database exists, as when a run starts)
        reader.watch("r1", None, callback)
        for i in (2, 3, 4):
            writer.store_event(_log_line("r1", i))
        assert four.wait(timeout=20), seen
        assert seen == ["line 1", "line 2", "line 3", "line 4"]
        assert writer._engines, "the writer keeps its connection open"
    finally:
        reader.dispose()
        writer.dispose()


def test_kept_connections_are_few_and_what_they_write_is_there_for_others(tmp_path, monkeypatch):
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    from pipelines import event_log

    storage = BatchingSqliteEventLogStorage(str(tmp_path))
    plain = SqliteEventLogStorage(str(tmp_path))  # Dagster's own, reading what was written
    try:
        runs = [f"run{i}" for i in range(event_log.OPEN_SHARDS + 4)]
        for n, run_id in enumerate(runs, 1):
            for i in range(n):
                storage.store_event(_log_line(run_id, i))
        assert len(storage._engines) == event_log.OPEN_SHARDS
        assert [len(plain.get_records_for_run(r).records) for r in runs] == list(range(1, len(runs) + 1))
        # wipe deletes the runs' files: nothing is written into a deleted file after it
        storage.wipe()
        assert set(storage._engines) <= {"index"}
        storage.store_event(_log_line("run3", 0))
        assert [e.user_message for e in plain.get_logs_for_run("run3")] == ["line 0"]
        # a forked process does not use (nor close) its parent's connections
        from sqlalchemy.engine import Engine

        before = list(storage._engines.values())
        monkeypatch.setattr(event_log.os, "getpid", lambda: -1)
        with monkeypatch.context() as m:
            disposed: list = []
            m.setattr(Engine, "dispose", lambda engine, close=True: disposed.append(engine))
            storage.store_event(_log_line("run0", 99))
        assert before and not [e for e in disposed if any(e is b for b in before)]
        assert list(storage._engines) == ["run0"] and storage._engines["run0"] not in before
        assert [e.user_message for e in plain.get_logs_for_run("run0")] == ["line 99"]  # (wiped before)
    finally:
        storage.dispose()
        plain.dispose()


def test_a_table_found_in_the_index_is_not_looked_up_again(tmp_path, monkeypatch):
    """Dagster asks whether the index has the checks' table for every asset check event:
    a yes is remembered (a table once there stays), a no is asked again."""
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    storage = BatchingSqliteEventLogStorage(str(tmp_path))
    asked: list[str] = []
    real = SqliteEventLogStorage.has_table
    monkeypatch.setattr(SqliteEventLogStorage, "has_table", lambda self, t: asked.append(t) or real(self, t))
    try:
        assert [storage.has_table("asset_check_executions") for _ in range(3)] == [True] * 3
        assert [storage.has_table("no_such_table") for _ in range(2)] == [False] * 2
        assert asked == ["asset_check_executions", "no_such_table", "no_such_table"]
    finally:
        storage.dispose()
