"""Incremental resolution (``resolve_subjects`` after a previous run): after every delivery
it publishes exactly the tables a fresh full resolution of the same raw data publishes
(compared with EXCEPT ALL both ways), logs every subject whose references or
codes.subjects row changed, falls back to a full resolution when its assumptions do not
hold, and leaves everything as it was when it fails."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl
import pytest
from codes_testgen import make_id
from test_codes_resolve import (
    C2,
    KEY,
    ORG,
    PERSON_ID,
    REC_COLS,
    REG_COLS,
    A,
    B,
    U,
    _records,
    _register_rows,
    _valid,
    crash_on_call,
)

from pipelines.codes import resolve
from pipelines.codes.privacy import PseudonymKeyMismatch, keyed_hash
from pipelines.codes.resolve import last_resolution, resolve_subjects

# The published tables and what an incremental run keeps for the next one.
PUBLISHED = ["codes.subjects", "codes.register", "codes.subject_refs", "audit.code_resolutions",
             "audit.code_conflicts"]
KEPT = [*PUBLISHED, "codes.ref_details", "codes.register_entries"]
STATE = ["codes.resolution_state", "codes.subject_changes"]

V = _valid("91", "351100", "MA9J1L3N")   # valid, first unknown, then registered
W = _valid("91", "351200", "MB1K3M5P")   # registers 未知有限公司 (named only in p12)
J2 = _valid("92", "351300", "MB2L4N6Q")  # a second 庚餐饮店
B2 = _valid("91", "351400", "MB3M5P7R")  # a second 乙贸易有限公司
X = _valid("91", "351500", "MB4N6Q8T")   # registers 己物流有限公司 anew
PERSON_2 = make_id("350102", dt.date(1985, 6, 15), "023")
DAY = {1: dt.date(2026, 11, 2), 2: dt.date(2026, 11, 3), 3: dt.date(2026, 11, 4), 4: dt.date(2026, 11, 5),
       5: dt.date(2026, 11, 6), 6: dt.date(2026, 11, 7)}


# ---------------------------------------------------------------- raw data, hand-built


def _reg(con, step: int, rid: str, uscc: str, name: str, entity: str = "企业") -> None:
    d = DAY[step]
    con.execute(f"INSERT INTO raw.registration VALUES ({', '.join(['?'] * 16)})", [
        rid, uscc, name, entity, None, "周八", dt.date(2021, 1, 1), "350100", "C13", "存续",
        f"scjg/{d:%Y%m%d}/registration.csv", int(rid[3:]), "scjg", f"{d:%Y%m%d}", d, True])


def _rec(con, step: int, rid: str, name: str, kind: str, uscc: str | None = None, id_no: str | None = None,
         table: str = "admin_penalty", dept: str = "sthj") -> None:
    d = DAY[step]
    con.execute(f"INSERT INTO raw.{table} VALUES ({', '.join(['?'] * 13)})", [
        rid, name, kind, uscc, None, None, id_no, keyed_hash(id_no, KEY) if id_no else None, None,
        f"{dept}/{d:%Y%m%d}/{table}.csv", int(rid[1:]), dept, True])


def _supersede(con, table: str, *record_ids: str) -> None:
    con.execute(f"UPDATE raw.{table} SET is_current = FALSE WHERE record_id IN ({', '.join('?' * len(record_ids))})",
                list(record_ids))


def step_new_and_superseded(con) -> None:
    """New records (a valid USCC, a name only, an unknown valid USCC, natural persons — one
    of them the person of p13 under another name) and superseded ones (p01, person p13)."""
    _rec(con, 1, "q01", "甲科技有限公司", ORG, A)
    _rec(con, 1, "q02", "乙贸易有限公司", ORG)
    _rec(con, 1, "q03", "孙七", "自然人", id_no=PERSON_2)
    _rec(con, 1, "q04", "癸商贸有限公司", ORG, V)
    _rec(con, 1, "q05", "王五五", "自然人", id_no=PERSON_ID)
    _rec(con, 1, "q07", "庚餐饮店", "个体工商户")
    _supersede(con, "admin_penalty", "p01", "p13")


def step_register_grows(con) -> None:
    """Register entries that turn unknown_subject references (p11, q04) valid and a
    name-only one (p12) repaired."""
    _reg(con, 2, "reg20", U, "辛咨询有限公司")
    _reg(con, 2, "reg21", V, "癸商贸有限公司")
    _reg(con, 2, "reg22", W, "未知有限公司")


def step_name_becomes_ambiguous(con) -> None:
    """A second register entry for 庚餐饮店 and for 乙贸易有限公司: their name matches
    (p08, q07; p09, q02) become ambiguous."""
    _reg(con, 3, "reg23", J2, "庚餐饮店", "个体工商户")
    _reg(con, 3, "reg24", B2, "乙贸易有限公司")


def step_register_record_superseded(con) -> None:
    """C2's registration record superseded by one under another name (the code stays): the
    ambiguous name match p10 becomes a repair to C1, 重码 appears for C2; and a category
    delivered for the first time."""
    _supersede(con, "registration", "reg04")
    _reg(con, 4, "reg25", C2, "丙新材料有限公司")
    con.execute(f"CREATE TABLE raw.admin_license ({REC_COLS})")
    _rec(con, 4, "l01", "甲科技有限公司", ORG, "91350100MA2B3C4D", table="admin_license", dept="scjg")
    _rec(con, 4, "l02", "丙新材料有限公司", ORG, None, table="admin_license", dept="scjg")
    _rec(con, 4, "l03", "孙七", "自然人", id_no=PERSON_2, table="admin_license", dept="scjg")


def step_register_code_disappears(con) -> None:
    """H's only registration record is no longer current: a code left the register."""
    _supersede(con, "registration", "reg08")


def step_after_fallback(con) -> None:
    """Deliveries go on after a full fallback."""
    _rec(con, 6, "q08", "己物流有限公司", ORG)
    _rec(con, 6, "q09", "赵六", "自然人", id_no="360426199113450071")  # invalid ID number
    _reg(con, 6, "reg26", X, "己物流有限公司")
    _supersede(con, "admin_penalty", "q02")


STEPS: list[tuple[Callable, str]] = [
    (step_new_and_superseded, "incremental"),
    (step_register_grows, "incremental"),
    (step_name_becomes_ambiguous, "incremental"),
    (step_register_record_superseded, "incremental"),
    (step_register_code_disappears, "full"),
    (step_after_fallback, "incremental"),
]


@pytest.fixture()
def con():
    c = duckdb.connect()
    c.execute("CREATE SCHEMA raw")
    c.execute(f"CREATE TABLE raw.registration ({REG_COLS})")
    c.executemany(f"INSERT INTO raw.registration VALUES ({', '.join(['?'] * 16)})", _register_rows())
    c.execute(f"CREATE TABLE raw.admin_penalty ({REC_COLS})")
    c.executemany(f"INSERT INTO raw.admin_penalty VALUES ({', '.join(['?'] * 13)})", _records())
    yield c
    c.close()


@pytest.fixture(scope="module")
def catalogue():
    from pipelines.catalogue import load_catalogue

    return load_catalogue()


# ---------------------------------------------------------------- helpers


def _full_copy(con, catalogue, key: bytes = KEY) -> duckdb.DuckDBPyConnection:
    """A fresh database holding ``con``'s raw tables, resolved in full."""
    ref = duckdb.connect()
    ref.execute("CREATE SCHEMA raw")
    for (table,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw' "
                                "ORDER BY table_name").fetchall():
        ref.register("_copy", con.sql(f'SELECT * FROM raw."{table}"').pl().to_arrow())
        ref.execute(f'CREATE TABLE raw."{table}" AS SELECT * FROM _copy')
        ref.unregister("_copy")
    resolve_subjects(ref, catalogue, key)
    return ref


def _differences(con, ref, tables=KEPT) -> dict[str, tuple[int, int]]:
    """Per table, rows only in ``con`` and rows only in ``ref`` (EXCEPT ALL both ways);
    a table whose columns differ counts as wholly different."""
    out = {}
    for t in tables:
        mine = con.sql(f"SELECT * FROM {t}")
        theirs = ref.sql(f"SELECT * FROM {t}")
        assert mine.columns == theirs.columns and mine.types == theirs.types, t
        ref.register("_mine", mine.pl().to_arrow())
        a = ref.execute(f"SELECT count(*) FROM (SELECT * FROM _mine EXCEPT ALL SELECT * FROM {t})").fetchall()[0][0]
        b = ref.execute(f"SELECT count(*) FROM (SELECT * FROM {t} EXCEPT ALL SELECT * FROM _mine)").fetchall()[0][0]
        ref.unregister("_mine")
        if a or b:
            out[t] = (a, b)
    return out


def _snapshot(con) -> tuple[dict, dict]:
    refs = {(r[1], r[0]): r for r in con.execute("SELECT * FROM codes.subject_refs").fetchall()}
    subjects = {r[0]: r for r in con.execute("SELECT * FROM codes.subjects").fetchall()}
    return refs, subjects


def _changed_subjects(before, after) -> set[str | None]:
    """The truth: the old and the new subject id of every reference added, removed or
    changed, and every subject whose codes.subjects row was added, removed or changed."""
    (refs0, subj0), (refs1, subj1) = before, after
    out: set[str | None] = set()
    for k in refs0.keys() | refs1.keys():
        old, new = refs0.get(k), refs1.get(k)
        if old != new:
            out.update(r[3] for r in (old, new) if r is not None)  # column 3: subject_id
    out.update(s for s in subj0.keys() | subj1.keys() if subj0.get(s) != subj1.get(s))
    return out


def _logged(con, generation: int) -> set[str | None]:
    rows = con.execute("SELECT subject_id FROM codes.subject_changes WHERE generation = ?", [generation]).fetchall()
    assert len(rows) == len({r[0] for r in rows}), "a subject logged twice in one generation"
    return {r[0] for r in rows}


def _frames(con, tables) -> dict[str, pl.DataFrame]:
    return {t: con.sql(f"SELECT * FROM {t}").pl() for t in tables}


def _status(con, record_id: str) -> tuple:
    return con.execute("SELECT status, method, resolved_uscc FROM codes.subject_refs WHERE record_id = ?",
                       [record_id]).fetchall()[0]


def _temp_objects(con) -> list:
    return con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary "
                       "UNION ALL SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal").fetchall()


# ---------------------------------------------------------------- equivalence and change log


def test_deliveries_give_the_tables_of_a_full_resolution(con, catalogue):
    """After each delivery the incremental run's tables equal a fresh full resolution's, and
    its change log is exactly the subjects whose references or codes.subjects row changed."""
    resolve_subjects(con, catalogue, KEY)
    first = last_resolution(con)
    assert (first["generation"], first["mode"], first["all_changed"]) == (1, "full", True)
    assert _logged(con, 1) == set()
    for i, (step, mode) in enumerate(STEPS, start=2):
        before = _snapshot(con)
        step(con)
        resolve_subjects(con, catalogue, KEY, batch_rows=4)
        state = last_resolution(con)
        assert (state["generation"], state["mode"]) == (i, mode), (step.__name__, state["reason"])
        ref = _full_copy(con, catalogue)
        assert _differences(con, ref) == {}, step.__name__
        ref.close()
        if mode == "incremental":
            assert state["all_changed"] is False
            truth = _changed_subjects(before, _snapshot(con))
            assert truth, step.__name__  # every step changes something
            assert _logged(con, i) == truth, step.__name__
            assert state["subjects_changed"] == len(truth)
        else:
            assert state["all_changed"] is True and "消失" in state["reason"]
            assert _logged(con, i) == set()
        # what each step is about did happen
        if step is step_new_and_superseded:
            assert _status(con, "q01") == ("valid", "exact", A) and _status(con, "q02") == ("repaired", "name_match", B)
            assert _status(con, "q03")[0] == "person" and _status(con, "q04")[0] == "unknown_subject"
            assert not con.execute("SELECT count(*) FROM codes.subject_refs WHERE record_id IN ('p01', 'p13')"
                                   ).fetchall()[0][0]
            assert state["refs_removed"] == 2
        if step is step_register_grows:
            assert _status(con, "p11") == ("valid", "exact", U) and _status(con, "q04") == ("valid", "exact", V)
            assert _status(con, "p12") == ("repaired", "name_match", W)
        if step is step_name_becomes_ambiguous:
            for rid in ("p08", "q07", "p09", "q02"):
                assert _status(con, rid)[0] == "ambiguous", rid
            assert _status(con, "p03") == ("repaired", "lookalike", B)
        if step is step_register_record_superseded:
            assert _status(con, "p10")[:2] == ("repaired", "name_match")
            assert _status(con, "l03")[0] == "person"
            dup = con.execute("SELECT count(*) FROM audit.code_conflicts WHERE kind = 'duplicate_code' AND uscc = ?",
                              [C2]).fetchall()[0][0]
            assert dup == 2
        if step is step_register_code_disappears:
            assert _status(con, "p07") == ("unresolved", None, None)  # was name_typo to H
        if step is step_after_fallback:
            assert _status(con, "p07") == ("repaired", "name_match", X) == _status(con, "q08")
            assert _status(con, "q09")[0] == "unresolved"


def test_null_subject_changes_are_logged(con, catalogue):
    """A reference without a subject id (nameless, codeless) that is added is logged as a
    NULL subject."""
    resolve_subjects(con, catalogue, KEY)
    _rec(con, 1, "q10", None, ORG)
    resolve_subjects(con, catalogue, KEY)
    state = last_resolution(con)
    assert state["mode"] == "incremental"
    assert con.execute("SELECT subject_id FROM codes.subject_refs WHERE record_id = 'q10'").fetchall() == [(None,)]
    assert None in _logged(con, state["generation"])
    ref = _full_copy(con, catalogue)
    assert _differences(con, ref) == {}


def test_demo_deliveries_give_the_tables_of_a_full_resolution(tmp_path, catalogue):
    """The same on generated deliveries: a demo inbox ingested and resolved, then two ~10 %
    batches (new subjects and records with the usual code problems, and re-deliveries that
    supersede earlier records), each ingested and resolved incrementally."""
    from pipelines.bench.pipeline import write_increment
    from pipelines.demo import generate_demo
    from pipelines.ingest import ingest_inbox
    from pipelines.settings import Paths

    generate_demo(tmp_path, subjects=400, seed=5, batches=2, error_rate=0.1)
    paths = Paths(tmp_path).ensure()
    ingest_inbox(paths, catalogue, key=KEY)
    with duckdb.connect(str(paths.warehouse)) as c:
        resolve_subjects(c, catalogue, KEY)
    for n, (batch, seed) in enumerate((("20261110", 9), ("20261120", 10)), start=2):
        write_increment(Path(tmp_path), share=0.1, seed=seed, batch=batch)
        ingest_inbox(paths, catalogue, key=KEY)
        with duckdb.connect(str(paths.warehouse)) as c:
            before = _snapshot(c)
            resolve_subjects(c, catalogue, KEY, batch_rows=50)
            state = last_resolution(c)
            assert (state["generation"], state["mode"]) == (n, "incremental"), state["reason"]
            assert state["refs_classified"] < state["refs"] / 2
            assert state["refs_removed"] > 0  # the re-deliveries superseded earlier records
            ref = _full_copy(c, catalogue)
            assert _differences(c, ref) == {}
            assert _logged(c, n) == _changed_subjects(before, _snapshot(c))
            persons = c.execute("SELECT count(*) FROM codes.subject_refs WHERE status = 'person'").fetchall()[0][0]
            assert persons > 0


def test_a_batch_of_a_row_group_or_more(catalogue):
    """An incremental batch of more than a DuckDB row group (122 880 rows) into tables whose
    codes.ref_details was created empty (every reference valid): found whole."""
    n = 130_000
    with duckdb.connect() as c:
        c.execute("CREATE SCHEMA raw")
        c.execute(f"CREATE TABLE raw.registration ({REG_COLS})")
        c.executemany(f"INSERT INTO raw.registration VALUES ({', '.join(['?'] * 16)})", _register_rows()[:3])
        c.execute(f"CREATE TABLE raw.admin_penalty ({REC_COLS})")
        resolve_subjects(c, catalogue, KEY)
        assert c.execute("SELECT count(*) FROM codes.ref_details").fetchall()[0][0] == 0
        c.execute(f"""INSERT INTO raw.admin_penalty
            SELECT 'r' || i, '某某贸易有限公司' || i, '{ORG}', 'BAD' || i, NULL, NULL, NULL, NULL, NULL,
                   'scjg/20261101/admin_penalty.csv', i, 'scjg', TRUE
            FROM range({n}) t(i)""")
        summary = resolve_subjects(c, catalogue, KEY)
        state = last_resolution(c)
        found = c.execute("SELECT count(*) FROM codes.subject_refs WHERE record_id = 'r5'").fetchall()[0][0]
        assert state["mode"] == "incremental" and state["refs_classified"] == n
        assert summary["by_status"] == {"unresolved": n, "valid": 3} and found == 1
        assert summary["resolutions"] == n and summary["subjects"] == n + 3
        assert len(_logged(c, 2)) == n


# ---------------------------------------------------------------- idempotence


def test_a_run_with_nothing_new_changes_nothing(con, catalogue, monkeypatch):
    """After a full and after an incremental run: with the register unchanged nothing is
    classified again (the references that are not valid nor persons would come out the
    same), and nothing is published — no table changes, the state and the change log
    included (no new generation)."""
    classified = []
    real = resolve._classify

    def counting(refs, *args, **kwargs):
        classified.append(refs.height)
        return real(refs, *args, **kwargs)

    monkeypatch.setattr(resolve, "_classify", counting)
    first = resolve_subjects(con, catalogue, KEY)
    for step in (None, step_new_and_superseded):
        if step is not None:
            step(con)
            step_register_grows(con)
            first = resolve_subjects(con, catalogue, KEY)
        before = _frames(con, KEPT + STATE)
        generation = last_resolution(con)["generation"]
        for _ in range(2):
            classified.clear()
            assert resolve_subjects(con, catalogue, KEY) == first
            assert sum(classified) == 0
            for t, frame in _frames(con, KEPT + STATE).items():
                assert frame.equals(before[t]), t  # row for row, in order
            assert last_resolution(con)["generation"] == generation
            assert _temp_objects(con) == []


# ---------------------------------------------------------------- fallbacks


def test_changed_rules_mean_a_full_resolution(con, catalogue, monkeypatch):
    resolve_subjects(con, catalogue, KEY)
    step_new_and_superseded(con)
    changed = catalogue.model_copy(deep=True)
    changed.settings["codes"]["methods"]["name_match"]["confidence"] = 0.65
    resolve_subjects(con, changed, KEY)
    state = last_resolution(con)
    assert (state["mode"], state["all_changed"]) == ("full", True) and "规则" in state["reason"]
    assert _logged(con, 2) == set()
    conf = con.execute("SELECT DISTINCT confidence FROM codes.subject_refs WHERE method = 'name_match'").fetchall()
    assert conf == [(0.65,)]
    ref = _full_copy(con, changed)
    assert _differences(con, ref) == {}
    # the same rules again: incremental
    step_register_grows(con)
    resolve_subjects(con, changed, KEY)
    assert last_resolution(con)["mode"] == "incremental"
    # a new version of the code's rules is a change of rules too
    monkeypatch.setattr(resolve, "RULES_VERSION", resolve.RULES_VERSION + 1)
    resolve_subjects(con, changed, KEY)
    assert (last_resolution(con)["generation"], last_resolution(con)["mode"]) == (4, "full")
    # another key is refused (the raw hashes were made with the first): nothing published
    before = _full_copy(con, changed)
    with pytest.raises(PseudonymKeyMismatch, match="CREDIT_PSEUDONYM_KEY"):
        resolve_subjects(con, changed, b"another-key")
    assert last_resolution(con)["generation"] == 4
    assert _differences(con, before) == {}
    person = con.execute("SELECT subject_id FROM codes.subject_refs WHERE record_id = 'q03'").fetchall()[0][0]
    assert person == "P" + keyed_hash(PERSON_2, KEY)[:16]  # the raw hash column is used as delivered


def test_an_edited_codes_yaml_means_a_full_resolution(con, catalogue, tmp_path):
    """The same through the file: a copy of catalogs/ whose codes.yaml names a method
    differently (the label is in codes.ref_details and audit.code_resolutions)."""
    import shutil

    from pipelines.catalogue import load_catalogue
    from pipelines.settings import catalog_dir

    resolve_subjects(con, load_catalogue(), KEY)
    root = tmp_path / "catalogs"
    shutil.copytree(catalog_dir(), root)
    path = root / "codes.yaml"
    text = path.read_text(encoding="utf-8")
    assert "label: 代码缺失或无效，按主体名称唯一匹配登记名录" in text
    path.write_text(text.replace("label: 代码缺失或无效，按主体名称唯一匹配登记名录", "label: 按名称匹配"),
                    encoding="utf-8")
    edited = load_catalogue(root)
    resolve_subjects(con, edited, KEY)
    state = last_resolution(con)
    assert (state["mode"], state["all_changed"]) == ("full", True)
    labels = con.execute("SELECT DISTINCT method_label FROM codes.ref_details WHERE method = 'name_match'").fetchall()
    assert labels == [("按名称匹配",)]
    assert _differences(con, _full_copy(con, edited)) == {}


def test_a_register_code_that_disappears_means_a_full_resolution(con, catalogue):
    resolve_subjects(con, catalogue, KEY)
    _supersede(con, "registration", "reg09")  # J's only record
    resolve_subjects(con, catalogue, KEY)
    state = last_resolution(con)
    assert (state["mode"], state["all_changed"]) == ("full", True) and "消失" in state["reason"]
    assert _status(con, "p08")[0] == "unresolved"
    ref = _full_copy(con, catalogue)
    assert _differences(con, ref) == {}


def test_changed_raw_columns_mean_a_full_resolution(con, catalogue):
    """A raw table read before whose columns changed (here the ID hash column is gone, so
    the hash is computed from the ID number): full. A category whose table is gone: its
    references are removed incrementally."""
    resolve_subjects(con, catalogue, KEY)
    step_register_record_superseded(con)  # creates raw.admin_license
    resolve_subjects(con, catalogue, KEY)
    assert last_resolution(con)["mode"] == "incremental"
    con.execute("DROP TABLE raw.admin_license")
    before = _snapshot(con)
    resolve_subjects(con, catalogue, KEY)
    state = last_resolution(con)
    assert (state["mode"], state["refs_removed"]) == ("incremental", 3)
    assert _logged(con, 3) == _changed_subjects(before, _snapshot(con))
    assert _differences(con, _full_copy(con, catalogue)) == {}
    con.execute("ALTER TABLE raw.admin_penalty DROP COLUMN id_no_hash")
    resolve_subjects(con, catalogue, KEY)
    state = last_resolution(con)
    assert (state["mode"], state["all_changed"]) == ("full", True) and "列" in state["reason"]
    assert _differences(con, _full_copy(con, catalogue)) == {}


def test_forced_full_and_missing_tables(con, catalogue):
    resolve_subjects(con, catalogue, KEY)
    resolve_subjects(con, catalogue, KEY, full=True)
    assert last_resolution(con)["mode"] == "full"
    con.execute("DROP TABLE codes.ref_details")
    resolve_subjects(con, catalogue, KEY)
    state = last_resolution(con)
    assert (state["generation"], state["mode"], state["all_changed"]) == (3, "full", True)
    con.execute("DELETE FROM codes.subject_refs WHERE record_id = 'p01'")  # tables not as the state left them
    resolve_subjects(con, catalogue, KEY)
    assert last_resolution(con)["mode"] == "full"
    assert _status(con, "p01")[0] == "valid"


def test_the_change_log_keeps_the_last_generations(con, catalogue, monkeypatch):
    monkeypatch.setattr(resolve, "KEEP_GENERATIONS", 2)
    resolve_subjects(con, catalogue, KEY)
    for i, step in enumerate((step_new_and_superseded, step_register_grows, step_name_becomes_ambiguous), start=2):
        step(con)
        resolve_subjects(con, catalogue, KEY)
        assert _logged(con, i)
    kept = con.execute("SELECT DISTINCT generation FROM codes.subject_changes ORDER BY 1").fetchall()
    assert kept == [(3,), (4,)]
    assert [r[0] for r in con.execute("SELECT generation FROM codes.resolution_state ORDER BY 1").fetchall()] == [
        1, 2, 3, 4]


# ---------------------------------------------------------------- failures


@pytest.mark.parametrize("fail_in", ["classification", "diff", "subjects", "conflicts", "state"])
def test_a_failed_incremental_run_leaves_everything_as_it_was(con, catalogue, monkeypatch, fail_in):
    """A failure while classifying, while diffing (both before the transaction) or while
    publishing (inside it: after the deletes and inserts of the references, in the
    register's tables, in the state) leaves every table — state and change log included —
    row for row, and no temp table; the next run is incremental and right."""
    resolve_subjects(con, catalogue, KEY)
    step_new_and_superseded(con)
    resolve_subjects(con, catalogue, KEY)
    before = _frames(con, KEPT + STATE)
    step_register_grows(con)
    step_name_becomes_ambiguous(con)
    if fail_in == "classification":
        crash_on_call(monkeypatch, resolve, "_classify", 2)
    elif fail_in == "diff":
        crash_on_call(monkeypatch, resolve, "_diff_changes")
    elif fail_in == "subjects":
        monkeypatch.setattr(resolve, "SUBJECTS_SQL", "SELECT * FROM no_such_table")
    elif fail_in == "conflicts":
        monkeypatch.setattr(resolve, "CONFLICTS_SQL", "SELECT * FROM no_such_table")
    else:
        crash_on_call(monkeypatch, resolve, "_finish_state")
    with pytest.raises((RuntimeError, duckdb.Error)):
        resolve_subjects(con, catalogue, KEY, batch_rows=3)
    for t, frame in _frames(con, KEPT + STATE).items():
        assert frame.equals(before[t]), t
    assert _temp_objects(con) == []
    monkeypatch.undo()
    snap = _snapshot(con)
    resolve_subjects(con, catalogue, KEY)
    state = last_resolution(con)
    assert (state["generation"], state["mode"]) == (3, "incremental")
    assert _logged(con, 3) == _changed_subjects(snap, _snapshot(con))
    ref = _full_copy(con, catalogue)
    assert _differences(con, ref) == {}
