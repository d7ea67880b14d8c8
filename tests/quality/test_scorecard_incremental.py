"""The incremental scorecard (reports/quality/.state/) gives exactly the counts of a full
computation: on a sequence of real batches (demo inbox, ingest, code governance after
each), on hand-made changes of every kind the state has to notice (supersession, a code
entering audit.code_conflicts, a reference re-resolved, a rebuilt warehouse), and the
state is never left half written. The oracle is the grain computation from before the
state (old_scorecard_grain.py)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines.quality import scorecard
from pipelines.quality.incremental import GrainState, grain_fingerprint
from pipelines.quality.scorecard import compute_scorecard, grain_counts
from tests.quality.old_scorecard_grain import grain_counts as full_grain_counts

KEY = b"incremental-scorecard-key"


class Spy:
    """Records which files each per-file computation was asked for."""

    def __init__(self, monkeypatch):
        self.file_grain: list = []
        self.refs_by_file: list = []
        for name, calls in (("_file_grain", self.file_grain), ("_refs_by_file", self.refs_by_file)):
            real = getattr(scorecard, name)

            def spy(con, catalogue, files=None, *a, __real=real, __calls=calls, **k):
                __calls.append(None if files is None else sorted(files))
                return __real(con, catalogue, files, *a, **k)

            monkeypatch.setattr(scorecard, name, spy)

    def reset(self):
        self.file_grain.clear()
        self.refs_by_file.clear()


def check(db: Path, catalogue, state: Path, spy: Spy | None = None) -> tuple[list, list]:
    """Incremental (with ``state``) == full (oracle) == no state; returns the per-file
    computations the incremental one asked for."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        want = full_grain_counts(con, catalogue)
        if spy:
            spy.reset()
        got = grain_counts(con, catalogue, state)
        calls = (list(spy.file_grain), list(spy.refs_by_file)) if spy else ([], [])
        pd.testing.assert_frame_equal(got, want)
        pd.testing.assert_frame_equal(grain_counts(con, catalogue), want)  # no state at all
        return calls
    finally:
        con.close()


def check_rejected(db: Path, catalogue, state: Path, background: bool = False) -> None:
    """The report's masked rejected-row CSVs from the kept state == computed afresh.
    ``background``: the state written in a thread, as the report does (and waited for:
    the next check reads it)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        deps = [r[0] for r in con.execute("select distinct department_code from audit.loads order by 1").fetchall()]
        saving: list = []
        kept = scorecard.rejected_rows_frames(con, catalogue, deps, state, saving=saving if background else None)
        assert len(saving) == background
        for future in saving:
            future.result()
        assert state.exists()
        for d in deps:
            want = scorecard.rejected_rows_frame(con, catalogue, d)
            pd.testing.assert_frame_equal(kept[d], want, check_dtype=False)
            assert kept[d].to_csv(index=False) == want.to_csv(index=False)
    finally:
        con.close()


def _batch_order(name: str) -> tuple[int, str]:
    digits = name.replace("-", "")
    return (0, digits) if digits[:8].isdigit() else (1, name)


def test_incremental_equals_full_on_a_sequence_of_batches(tmp_path, catalogue, monkeypatch):
    from pipelines.bench.pipeline import write_increment
    from pipelines.codes.resolve import resolve_subjects
    from pipelines.demo import generate_demo
    from pipelines.ingest import ingest_inbox
    from pipelines.settings import Paths

    src, data = tmp_path / "src", tmp_path / "data"
    generate_demo(src, subjects=300, seed=7, error_rate=0.05, catalogue=catalogue)
    paths = Paths(data).ensure()
    batches = sorted({b.name for d in (src / "inbox").iterdir() for b in d.iterdir() if b.is_dir()}, key=_batch_order)
    assert len(batches) >= 3
    state = tmp_path / "state" / "scorecard.duckdb"
    spy = Spy(monkeypatch)

    def deliver_and_check(step: int) -> None:
        con = duckdb.connect(str(paths.warehouse))
        try:
            ingest_inbox(paths, catalogue, con=con, key=KEY)
            resolve_subjects(con, catalogue, KEY)
        finally:
            con.close()
        file_grain, _ = check(paths.warehouse, catalogue, state, spy)
        check_rejected(paths.warehouse, catalogue, state.with_name("rejected_rows.duckdb"), background=step % 2 == 1)
        if step:  # the state was used: completeness and timeliness of the new files only
            assert len(file_grain) == 1 and file_grain[0] is not None, file_grain

    for step, batch in enumerate(batches):
        for dept in (src / "inbox").iterdir():
            if (dept / batch).is_dir():
                shutil.copytree(dept / batch, data / "inbox" / dept.name / batch)
        deliver_and_check(step)
    # A 5 % increment: new subjects' files and re-deliveries superseding earlier rows.
    write_increment(data, share=0.05, seed=99)
    deliver_and_check(len(batches))
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        assert con.execute("select count(*) from audit.row_outcomes where outcome = 'superseded'").fetchone()[0] > 0
        # Code governance writes each reference's file: that of its raw record.
        tables = [c.id for c in catalogue.categories.values() if c.has_subject and c.subject_ref_fields]
        records = " union all ".join(f"select record_id, source_file from raw.{t}" for t in tables)
        assert con.execute(f"""select count(*), count(*) filter (where r.source_file is distinct from s.source_file)
                               from codes.subject_refs s left join ({records}) r using (record_id)""").fetchone()[1] == 0
        # Nothing new: the kept counts are the answer, nothing is recomputed.
        spy.reset()
        pd.testing.assert_frame_equal(grain_counts(con, catalogue, state), full_grain_counts(con, catalogue))
        assert spy.file_grain == [] and spy.refs_by_file == []
        # The whole scorecard, not only its counts.
        a = compute_scorecard(con, catalogue, dt.date(2026, 12, 1), state_path=state).to_json()
        b = compute_scorecard(con, catalogue, dt.date(2026, 12, 1)).to_json()
    finally:
        con.close()
    a.pop("generated_at"), b.pop("generated_at")
    assert a == b


@pytest.fixture
def wh(tmp_path, warehouse):
    db = tmp_path / "credit.duckdb"
    shutil.copy(warehouse, db)
    return db


def test_references_without_their_file_column(wh, catalogue):
    """A warehouse whose code governance has not run since codes.subject_refs got its
    ``source_file`` column: the files are read from the raw tables, same counts."""
    con = duckdb.connect(str(wh))
    try:
        want = full_grain_counts(con, catalogue)
        pd.testing.assert_frame_equal(grain_counts(con, catalogue), want)
        con.execute("update codes.subject_refs set source_file = 'scjg/20251020/admin_penalty.csv'")
        assert not grain_counts(con, catalogue).equals(want)  # the column is what is read
        con.execute("alter table codes.subject_refs drop column source_file")
        pd.testing.assert_frame_equal(grain_counts(con, catalogue), want)
        assert scorecard._files_of_codes(con, catalogue, {scorecard._conflict_codes(con).pop()}) == {"scjg/20251009/admin_penalty.csv"}
    finally:
        con.close()


def test_changes_the_state_must_notice(tmp_path, wh, catalogue, monkeypatch):
    state = tmp_path / "state.duckdb"
    spy = Spy(monkeypatch)
    check(wh, catalogue, state)
    F1, F2 = "scjg/20251009/admin_penalty.csv", "scjg/20251020/admin_penalty.csv"

    def change(sql: str) -> tuple[list, list]:
        with duckdb.connect(str(wh)) as con:
            con.execute(sql)
        check_rejected(wh, catalogue, tmp_path / "rejected.duckdb")
        return check(wh, catalogue, state, spy)

    check_rejected(wh, catalogue, tmp_path / "rejected.duckdb")

    # Supersession: F1 row 1 superseded (its reference gone): F1 is counted again.
    assert change(f"""update audit.row_outcomes set outcome = 'superseded' where source_file = '{F1}' and source_row = 1;
               update raw.admin_penalty set is_current = false where source_file = '{F1}' and source_row = 1;
               delete from codes.subject_refs where record_id = (select record_id from raw.admin_penalty
                   where source_file = '{F1}' and source_row = 1)""") == ([], [[F1]])
    # A code enters the conflicts: the files referring to it (F1 row 3) are counted again.
    assert change("insert into audit.code_conflicts values ('duplicate_code', '91350100M000100Y45', 'x', 'y')") \
        == ([], [[F1]])
    # Code governance re-resolves a reference of F2 (same counts of files otherwise): the
    # fingerprint of scjg / admin_penalty no longer adds up, it is counted again in full.
    assert change(f"""update codes.subject_refs set status = 'valid', resolved_uscc = subject_id
        where record_id = (select record_id from raw.admin_penalty where source_file = '{F2}' and source_row = 1)""") \
        == ([], [None])
    # F2 delivered again under the same path with other content (ingest: changed_file, a
    # second load of the path): everything joined on the path is counted again.
    assert change(f"""insert into audit.loads by name select 'L-changed' as load_id, source_file, department_code,
                   category, batch, batch_date, 'a9' as sha256, file_format, encoding, 1 as rows_read,
                   0 as rows_loaded, 1 as rows_rejected, 0 as rows_duplicate, 'rejected_file' as status,
                   'changed_file' as reason, loaded_at from audit.loads where source_file = '{F2}';
               insert into audit.row_outcomes by name select '{F2}' as source_file, 9 as source_row,
                   'admin_penalty' as category, 'scjg' as department_code, 'L-changed' as load_id,
                   'rejected' as outcome;
               insert into audit.rejected_rows by name select '{F2}' as source_file, 9 as source_row,
                   'scjg' as department_code, 'admin_penalty' as category, '同一路径的文件内容已变更' as reasons,
                   ['changed_file'] as rule_ids, raw from audit.rejected_rows where source_file = '{F1}'""") \
        == ([[F2]], [[F2]])
    # Code governance has not run yet (no codes tables), then has: the files referring to
    # the codes in conflict, then every department and category, are counted again.
    with duckdb.connect(str(wh)) as con:
        con.execute("create table codes.refs_backup as select * from codes.subject_refs; drop table codes.subject_refs")
    check(wh, catalogue, state)
    assert change("create table codes.subject_refs as select * from codes.refs_backup") == ([], [[F1], None])


def test_state_is_ignored_when_it_does_not_fit(tmp_path, wh, catalogue, monkeypatch):
    state = tmp_path / "state.duckdb"
    check(wh, catalogue, state)
    con = duckdb.connect(str(wh), read_only=True)
    loads = con.execute("select source_file, load_id from audit.loads").df()
    con.close()
    assert GrainState.load(state, grain_fingerprint(), loads) is not None
    assert GrainState.load(state, "another catalogue", loads) is None
    rebuilt = loads.assign(load_id=loads["load_id"] + "-again")  # the warehouse was rebuilt
    assert GrainState.load(state, grain_fingerprint(), rebuilt) is None
    state.write_bytes(b"not a database")
    assert GrainState.load(state, grain_fingerprint(), loads) is None
    check(wh, catalogue, state)  # recomputed in full, and written again
    assert GrainState.load(state, grain_fingerprint(), loads) is not None


def test_a_failed_run_leaves_the_previous_state(tmp_path, wh, catalogue, monkeypatch):
    state = tmp_path / "state" / "scorecard.duckdb"
    check(wh, catalogue, state)
    before = state.read_bytes()
    real = GrainState.save

    def failing(self, path, fingerprint):
        self.refs_by_file = pd.DataFrame({"x": [1]})  # dies half-way through writing its tables
        real(self, path, fingerprint)

    monkeypatch.setattr(GrainState, "save", failing)
    con = duckdb.connect(str(wh), read_only=True)
    try:
        with pytest.raises(Exception):  # noqa: B017 - whatever the failure, the old state stays
            grain_counts(con, catalogue, state, full=True)
    finally:
        con.close()
    assert state.read_bytes() == before
    assert sorted(p.name for p in state.parent.iterdir()) == ["scorecard.duckdb"]  # no temporary left


def test_revalidate_recomputes_everything(tmp_path, wh, catalogue, monkeypatch):
    state = tmp_path / "state.duckdb"
    check(wh, catalogue, state)
    spy = Spy(monkeypatch)
    con = duckdb.connect(str(wh), read_only=True)
    try:
        got = grain_counts(con, catalogue, state, full=True)
        pd.testing.assert_frame_equal(got, full_grain_counts(con, catalogue))
    finally:
        con.close()
    assert spy.file_grain == [None] and spy.refs_by_file == [None]


def test_state_tables_round_trip_with_missing_values(tmp_path):
    """What the state writes (through Arrow, or as Python objects when a column holds mixed
    types) is what it reads back: strings, counts, dates and NULLs."""
    from pipelines.quality.incremental import _load_tables, _save_tables

    schema = {"rows": "file_key VARCHAR, source_row BIGINT, batch_date DATE, raw VARCHAR",
              "mixed": "value VARCHAR"}
    rows = pd.DataFrame({"file_key": ["a.csv", None, "c.csv"], "source_row": [1, 2, 3],
                         "batch_date": pd.to_datetime(["2026-01-05", None, "2026-03-01"]),
                         "raw": ['{"名称": "甲"}', None, ""]})
    mixed = pd.DataFrame({"value": ["x", 7, None]}, dtype=object)  # Arrow refuses: the slow way
    path = tmp_path / "state.duckdb"
    _save_tables(path, "fp", schema, {"rows": rows, "mixed": mixed})
    back = _load_tables(path, "fp", schema)
    assert back["rows"]["file_key"].tolist()[0] == "a.csv" and pd.isna(back["rows"]["file_key"][1])
    assert back["rows"]["source_row"].tolist() == [1, 2, 3]
    assert [None if pd.isna(d) else d.date() for d in back["rows"]["batch_date"]] == \
        [dt.date(2026, 1, 5), None, dt.date(2026, 3, 1)]
    assert back["rows"]["raw"][0] == '{"名称": "甲"}' and pd.isna(back["rows"]["raw"][1]) and back["rows"]["raw"][2] == ""
    assert back["mixed"]["value"].tolist()[:2] == ["x", "7"] and pd.isna(back["mixed"]["value"][2])
    assert _load_tables(path, "another", schema) is None


@pytest.mark.parametrize("share, counted", [(1.0, "the touched file"), (0.0, "every file")])
def test_a_batch_touching_most_rows_counts_every_file(tmp_path, wh, catalogue, monkeypatch, share, counted):
    """quality.incremental.max_recount_share: above it (here: any supersession at all) the
    references of every file are counted at once, with the same counts."""
    real = scorecard.quality_settings
    monkeypatch.setattr(scorecard, "quality_settings",
                        lambda c: {**real(c), "incremental": {"max_recount_share": share}})
    state = tmp_path / "state.duckdb"
    check(wh, catalogue, state)
    spy = Spy(monkeypatch)
    F1 = "scjg/20251009/admin_penalty.csv"
    with duckdb.connect(str(wh)) as con:
        con.execute(f"""update audit.row_outcomes set outcome = 'superseded' where source_file = '{F1}' and source_row = 1;
            update raw.admin_penalty set is_current = false where source_file = '{F1}' and source_row = 1;
            delete from codes.subject_refs where record_id = (select record_id from raw.admin_penalty
                where source_file = '{F1}' and source_row = 1)""")
    looked_up: list = []
    real_files_of_codes = scorecard._files_of_codes
    monkeypatch.setattr(scorecard, "_files_of_codes",
                        lambda *a, **k: looked_up.append(1) or real_files_of_codes(*a, **k))
    assert check(wh, catalogue, state, spy) == ([], [[F1]] if counted == "the touched file" else [None])
    # above the share, the files of the codes entering or leaving the conflicts (a scan of
    # every reference) are not looked for: every file is counted anyway
    assert bool(looked_up) == (counted == "the touched file")
