"""A small batch on a big warehouse costs the batch, not the warehouse: supersession is
applied once per run (not once per file), a re-run reads no file already recorded, and
a run interrupted between its loads and their supersession is finished by the next one.

The cost is measured as DuckDB reports it (rows read by each table scan, from the JSON
profile of every statement), not as wall-clock time."""

from __future__ import annotations

import json
import os
import re
from collections import Counter

import duckdb
import pytest
from ingest_helpers import KEY, csv_bytes, deliver, penalty, query
from test_equivalence import supersession_invariant

from pipelines.ingest import ingest_inbox, load
from pipelines.settings import duckdb_memory_limit


class ScanCounter:
    """A connection that profiles every statement and adds up, per table, its table scans
    and the rows they read (``rows_scanned``), and per statement kind how often it ran."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self.rows: Counter[str] = Counter()
        self.scans: Counter[str] = Counter()
        self.statements: Counter[str] = Counter()
        con.execute("PRAGMA enable_profiling = 'no_output'")
        con.execute("SET profiling_coverage = 'ALL'")

    def execute(self, sql, *args):
        res = self._con.execute(sql, *args)
        self.statements[" ".join(str(sql).split()[:3])] += 1
        info = json.loads(self._con.get_profiling_information(format="json"))
        ops = info.get("operator", [])
        stack = list(ops) if isinstance(ops, list) else [ops]
        while stack:
            op = stack.pop()
            if op.get("type") == "TABLE_SCAN":
                table = re.sub(r"^[^.]+\.", "", str(op.get("extra_info", {}).get("Table", "")))
                self.rows[table] += int(op.get("rows_scanned", 0))
                self.scans[table] += 1
            stack.extend(op.get("children", []))
        return res

    def __getattr__(self, name):  # begin, commit, rollback, register, unregister …
        return getattr(self._con, name)


def _ingest_counted(paths, catalogue, **kw) -> tuple[load.IngestReport, ScanCounter]:
    con = duckdb.connect(str(paths.warehouse), config={"memory_limit": duckdb_memory_limit()})
    try:
        counter = ScanCounter(con)
        report = ingest_inbox(paths, catalogue, con=counter, key=KEY, **kw)
        return report, counter
    finally:
        con.close()


def _big_warehouse(paths, catalogue, files: int = 12, rows: int = 1000) -> int:
    for i in range(files):
        batch = f"202404{i + 1:02d}"  # after the records' decision date
        deliver(paths, f"scjg/{batch}/admin_penalty.csv",
                csv_bytes([penalty(i * rows + n) for n in range(rows)]))
    rep = ingest_inbox(paths, catalogue, key=KEY)
    assert rep.categories["admin_penalty"].rows_loaded == files * rows
    return files * rows


def test_small_batch_reads_each_big_table_about_once(paths, catalogue):
    n_big = _big_warehouse(paths, catalogue)
    # six small files in the next batch: new records and re-deliveries of old ones
    for j in range(6):
        rows = [penalty(100_000 + j * 10 + n) for n in range(4)] + [penalty(j * 1000 + 7, 违法事实="更正")]
        deliver(paths, f"scjg/20240420/admin_penalty_{j}.csv", csv_bytes(rows))
    rep, counter = _ingest_counted(paths, catalogue)
    assert [f.status for f in rep.processed] == ["loaded"] * 6
    assert rep.categories["admin_penalty"].rows_superseded == 6
    # A constant number of passes over the category table and the outcomes per run,
    # whatever the number of files (before: three scans of the table and an update of the
    # outcomes per file, 6 x 3 x 12000 rows read here). On a table this small (one row
    # group) nothing can be pruned; on a big one the new rows' keys and the rows updated
    # by rowid only read their own row groups.
    assert counter.scans["raw.admin_penalty"] <= 4, counter.scans
    assert counter.rows["raw.admin_penalty"] <= 4 * (n_big + 30), counter.rows
    assert counter.scans["audit.row_outcomes"] == 1, counter.scans
    assert counter.rows["audit.row_outcomes"] <= n_big + 30, counter.rows
    supersession_invariant(paths.warehouse)
    old = query(paths, "select outcome from audit.row_outcomes where source_file = "
                       "'scjg/20240401/admin_penalty.csv' and source_row = 8")
    assert old["outcome"].to_list() == ["superseded"]


def test_rerun_with_nothing_new_reads_no_file_and_no_table(paths, catalogue, monkeypatch):
    monkeypatch.setattr(load, "STABLE_AFTER_NS", 0)  # the test's files are seconds old
    _big_warehouse(paths, catalogue, files=3, rows=200)
    deliver(paths, "scjg/20240311/bad.csv", b"x")
    ingest_inbox(paths, catalogue, key=KEY)
    reads: list[str] = []
    real_read = load._read_file
    monkeypatch.setattr(load, "_read_file", lambda p: reads.append(p.name) or real_read(p))
    rep, counter = _ingest_counted(paths, catalogue)
    assert {f.status for f in rep.files} == {"skipped"} and rep.categories == {}
    assert reads == []
    big = {t: n for t, n in counter.rows.items() if t.startswith(("raw.", "audit.row_outcomes"))}
    assert sum(big.values()) == 0, big
    # without the stat signatures every file is read and hashed again, with the same result
    rep, _ = _ingest_counted(paths, catalogue, trust_stat=False)
    assert {f.status for f in rep.files} == {"skipped"} and len(reads) == 4


def test_fresh_files_are_read_again_and_a_rewrite_is_seen(paths, catalogue, monkeypatch):
    """A signature is trusted only for a file changed well before it was hashed (a rewrite
    within the same timestamp tick would otherwise go unseen); a rewrite with the same
    size and mtime is still seen (its ctime moved)."""
    p = deliver(paths, "scjg/20240310/admin_penalty.csv", csv_bytes([penalty(1), penalty(2)]))
    ingest_inbox(paths, catalogue, key=KEY)
    assert query(paths, "select count(*) n from ingest_state.inbox_files")["n"][0] == 0  # too fresh
    monkeypatch.setattr(load, "STABLE_AFTER_NS", 0)
    assert {f.status for f in ingest_inbox(paths, catalogue, key=KEY).files} == {"skipped"}
    assert query(paths, "select count(*) n from ingest_state.inbox_files")["n"][0] == 1
    st = p.stat()
    p.write_bytes(csv_bytes([penalty(1), penalty(3)]))  # same size
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert p.stat().st_size == st.st_size and p.stat().st_mtime_ns == st.st_mtime_ns
    rep = ingest_inbox(paths, catalogue, key=KEY)
    assert [(f.status, f.rule) for f in rep.processed] == [("rejected_file", "changed_file")]


def test_supersession_left_by_an_interrupted_run_is_finished_by_the_next(paths, catalogue, monkeypatch):
    deliver(paths, "scjg/20240310/admin_penalty.csv", csv_bytes([penalty(1), penalty(2)]))
    ingest_inbox(paths, catalogue, key=KEY)
    deliver(paths, "scjg/20240320/admin_penalty.csv", csv_bytes([penalty(1, 违法事实="更正")]))
    # the process dies after the file's commit, before the run's supersession
    monkeypatch.setattr(load, "_supersede_pending", lambda con: {})
    ingest_inbox(paths, catalogue, key=KEY)
    monkeypatch.undo()
    assert query(paths, "select count(*) n from ingest_state.pending_supersession")["n"][0] == 1
    assert query(paths, "select count(*) n from raw.admin_penalty where is_current")["n"][0] == 3
    rep = ingest_inbox(paths, catalogue, key=KEY)
    assert {f.status for f in rep.files} == {"skipped"}
    assert rep.categories["admin_penalty"].rows_superseded == 1
    assert query(paths, "select count(*) n from ingest_state.pending_supersession")["n"][0] == 0
    rows = query(
        paths, "select source_file, outcome from audit.row_outcomes where source_row = 1 order by 1")
    assert rows.rows() == [
        ("scjg/20240310/admin_penalty.csv", "superseded"),
        ("scjg/20240320/admin_penalty.csv", "loaded"),
    ]
    supersession_invariant(paths.warehouse)


def test_a_failing_file_still_gets_the_earlier_files_superseded(paths, catalogue, monkeypatch):
    deliver(paths, "scjg/20240310/admin_penalty.csv", csv_bytes([penalty(1)]))
    deliver(paths, "scjg/20240311/admin_penalty.csv", csv_bytes([penalty(1, 违法事实="更正")]))
    deliver(paths, "scjg/20240312/admin_penalty.csv", csv_bytes([penalty(2)]))

    def boom(f):
        if f.batch == "20240312":
            raise RuntimeError("injected crash")

    monkeypatch.setattr(load, "_after_raw_insert", boom)
    with pytest.raises(RuntimeError, match="injected"):
        ingest_inbox(paths, catalogue, key=KEY)
    assert query(paths, "select count(*) n from ingest_state.pending_supersession")["n"][0] == 0
    cur = query(paths, "select batch, is_current from raw.admin_penalty order by batch")
    assert cur.rows() == [("20240310", False), ("20240311", True)]


def test_another_pseudonym_key_is_refused(paths, catalogue):
    """The first ingest records the key's fingerprint; a run with another key (the
    environment variable unset in a service, a lost key file) stops before writing
    anything, with a reason an official can act on, instead of giving people a second
    pseudonym. The original key works again afterwards."""
    from pipelines.codes.privacy import PseudonymKeyMismatch

    deliver(paths, "scjg/20240310/admin_penalty.csv", csv_bytes([penalty(1)]))
    ingest_inbox(paths, catalogue, key=KEY)
    n_loads = query(paths, "SELECT count(*) FROM audit.loads").item()
    deliver(paths, "scjg/20240311/admin_penalty.csv", csv_bytes([penalty(2)]))
    with pytest.raises(PseudonymKeyMismatch) as err:
        ingest_inbox(paths, catalogue, key=b"another-key")
    assert "假名化密钥" in str(err.value) and "CREDIT_PSEUDONYM_KEY" in str(err.value)
    assert query(paths, "SELECT count(*) FROM audit.loads").item() == n_loads
    report = ingest_inbox(paths, catalogue, key=KEY)
    assert [r.status for r in report.processed] == ["loaded"]
