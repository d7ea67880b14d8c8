"""Pin the ingest results on realistic demo data: every column of every ``raw.*`` and
``audit.*`` table (record ids and keys, keyed hashes, masked values, flags, extra JSON,
supersession, row outcomes, rejected rows with reasons, rule ids and raw JSON, loads)
except the wall-clock ``loaded_at`` must match the fingerprints recorded in
``golden_demo_ingest.json``, which were produced by the ingest before its performance
rework. A deliberate change of the results (catalogue, rules, demo generator) updates
them with::

    .venv/bin/python tests/ingest/test_equivalence.py --write
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb

GOLDEN = Path(__file__).with_name("golden_demo_ingest.json")
SUBJECTS, SEED, ERROR_RATE, KEY = 2000, 11, 0.1, b"equivalence-key"


def fingerprints(warehouse: Path) -> dict[str, list]:
    """Table → [row count, md5 over the sorted md5s of its rows without ``loaded_at``]."""
    out: dict[str, list] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN ('raw', 'audit') ORDER BY ALL"
        ).fetchall()
        for schema, table in tables:
            cols = [
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
                    "AND table_name = ? AND column_name <> 'loaded_at' ORDER BY ordinal_position",
                    [schema, table],
                ).fetchall()
            ]
            body = ", ".join('"' + c + '"' for c in cols)
            n, digest = con.execute(
                f"SELECT count(*), md5(coalesce(string_agg(h, ',' ORDER BY h), '')) FROM "
                f"(SELECT md5(CAST(s AS VARCHAR)) AS h FROM (SELECT {body} FROM {schema}.\"{table}\") s)"
            ).fetchone()
            out[f"{schema}.{table}"] = [n, digest]
    return out


def ingest_demo(data_dir: Path) -> dict[str, list]:
    from pipelines.catalogue import load_catalogue
    from pipelines.demo import generate_demo
    from pipelines.ingest import ingest_inbox
    from pipelines.settings import Paths

    catalogue = load_catalogue()
    generate_demo(data_dir, subjects=SUBJECTS, seed=SEED, error_rate=ERROR_RATE, catalogue=catalogue)
    paths = Paths(data_dir).ensure()
    ingest_inbox(paths, catalogue, key=KEY)
    return fingerprints(paths.warehouse)


def test_demo_ingest_results_unchanged(tmp_path):
    got = ingest_demo(tmp_path / "data")
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert got["raw.admin_license"][0] > 0 and got["audit.rejected_rows"][0] > 0
    assert got == want
    supersession_invariant(tmp_path / "data" / "warehouse" / "credit.duckdb")



def test_files_prepared_ahead_give_the_same_results(tmp_path, monkeypatch):
    """Files read and validated in a thread ahead of the one being written (the default)
    end exactly as one file at a time does — including a copy of a file delivered right
    after it in the same run: the copy is prepared before the original is written (forced
    here), so only the check when it is written can find it a duplicate."""
    import shutil
    import threading

    from pipelines.catalogue import load_catalogue
    from pipelines.demo import generate_demo
    from pipelines.ingest import ingest_inbox, load
    from pipelines.settings import Paths

    catalogue = load_catalogue()
    base = tmp_path / "base"
    generate_demo(base, subjects=300, seed=SEED, error_rate=ERROR_RATE, catalogue=catalogue)
    original = sorted((base / "inbox").rglob("*.csv"))[0]
    copy = original.with_name(original.stem + "_副本" + original.suffix)
    shutil.copyfile(original, copy)
    orig_rel, copy_rel = (p.relative_to(base / "inbox").as_posix() for p in (original, copy))

    prepare, finish = load._prepare, load._finish
    copy_prepared = threading.Event()
    copy_problem_when_prepared = []

    def slow_prepare(run, f):
        p = prepare(run, f)
        if f.source_file == copy_rel:
            copy_problem_when_prepared.append(p.problem)
            copy_prepared.set()
        return p

    def finish_after_copy_prepared(run, f, p):
        if f.source_file == orig_rel and threading.current_thread() is threading.main_thread():
            copy_prepared.wait(60)
        return finish(run, f, p)

    got = {}
    for ahead in (0, 1, 3):
        d = tmp_path / f"ahead{ahead}"
        shutil.copytree(base / "inbox", d / "inbox")
        paths = Paths(d).ensure()
        copy_prepared.clear()
        copy_problem_when_prepared.clear()
        with monkeypatch.context() as m:
            if ahead:
                m.setattr(load, "_prepare", slow_prepare)
                m.setattr(load, "_finish", finish_after_copy_prepared)
            report = ingest_inbox(paths, catalogue, key=KEY, prepare_ahead=ahead)
        statuses = {r.source_file: (r.status, r.reason) for r in report.files}
        assert statuses[orig_rel][0] == "loaded"
        assert statuses[copy_rel] == ("duplicate_file", f"与已入库的文件 {orig_rel} 内容完全相同")
        if ahead:  # prepared while the original was not yet written: found when written
            assert copy_problem_when_prepared == [None]
        got[ahead] = fingerprints(paths.warehouse)
    assert got[0]["raw.admin_license"][0] > 0
    assert got[1] == got[0] and got[3] == got[0]


def supersession_invariant(db: Path) -> None:
    """What dbt relies on (macros/versions.sql versions_with_subject): every record key has
    exactly one current version, and every other version names it in superseded_by."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [t for (t,) in con.execute("select table_name from duckdb_tables() where schema_name = 'raw'").fetchall()]
        versions = 0
        for t in tables:
            bad_keys, bad_rows, n_old = con.execute(f"""
                with cur as (select record_key, record_id from raw."{t}" where is_current)
                select (select count(*) from (select record_key from raw."{t}" group by record_key
                                              having count(*) filter (where is_current) <> 1)),
                       (select count(*) from raw."{t}" v join cur c using (record_key)
                        where v.superseded_by is distinct from
                              (case when v.is_current then null else c.record_id end)),
                       (select count(*) from raw."{t}" where not is_current)""").fetchone()
            assert (t, bad_keys, bad_rows) == (t, 0, 0)
            versions += n_old
        assert versions > 0  # the demo inbox re-delivers records: the check is not vacuous
    finally:
        con.close()


if __name__ == "__main__":  # --write: record the current results as the golden ones
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        fp = ingest_demo(Path(d) / "data")
    print(json.dumps(fp, indent=1, ensure_ascii=False))
    if "--write" in sys.argv:
        GOLDEN.write_text(json.dumps(fp, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def test_direct_and_distinct_normalisation_agree(tmp_path, monkeypatch):
    """A file's validation frame is the same whichever way its fields are evaluated: all
    directly in one query (small files), or each through its distinct values (larger
    files with repeating values) — on demo deliveries with errors, every category."""
    import polars as pl

    from pipelines.catalogue import load_catalogue
    from pipelines.catalogue.schemas import text_col
    from pipelines.demo import generate_demo
    from pipelines.ingest import normalize
    from pipelines.ingest.discover import discover
    from pipelines.ingest.readers import UnreadableFile, read_bytes
    from pipelines.settings import Paths

    catalogue = load_catalogue()
    generate_demo(tmp_path, subjects=200, seed=SEED, error_rate=0.3, catalogue=catalogue)
    categories, unparsed = set(), 0
    for f in discover(Paths(tmp_path).inbox, catalogue):
        if f.category is None:
            continue
        try:
            read = read_bytes(f.path.read_bytes(), f.file_format, 65536)
        except UnreadableFile:
            continue  # the demo's deliberately broken files
        mapping = normalize.map_headers(read.frame.columns, f.category)
        frames = {}
        for way, up_to, direct_above in (("direct", 10**9, 0.2), ("distinct", -1, 2.0)):
            with monkeypatch.context() as m:
                m.setattr(normalize, "_ALL_DIRECT_UP_TO", up_to)
                m.setattr(normalize, "_DIRECT_ABOVE", direct_above)
                frames[way] = normalize.normalize_frame(read.frame, mapping, f.category, catalogue,
                                                        numeric_cells=read.numeric_cells)
        assert frames["direct"].height == read.frame.height, f.source_file
        assert frames["direct"].columns == frames["distinct"].columns, f.source_file
        assert frames["direct"].equals(frames["distinct"]), f.source_file
        categories.add(f.category.id)
        # values delivered that did not parse (a date, number or enum value not understood)
        typed = [fl.name for fl in f.category.fields if text_col(fl.name) in frames["direct"].columns]
        unparsed += frames["direct"].select(
            pl.sum_horizontal(pl.col(text_col(c)).is_not_null() & pl.col(c).is_null() for c in typed)
        ).to_series().sum() if typed else 0
    assert categories == set(catalogue.categories)
    assert unparsed > 0


def test_files_ahead_are_prepared_at_the_same_time(tmp_path, monkeypatch):
    """With ``prepare_ahead`` 2 (the catalogue's setting) the two files ahead are prepared
    in two threads at once, not one after the other: the first two preparations wait for
    each other at a barrier, which a single preparing thread never passes."""
    import threading

    from pipelines.catalogue import load_catalogue
    from pipelines.demo import generate_demo
    from pipelines.ingest import ingest_inbox, load
    from pipelines.settings import Paths

    catalogue = load_catalogue()
    assert int(catalogue.setting("ingest.prepare_ahead")) == 2
    generate_demo(tmp_path, subjects=100, seed=SEED, error_rate=ERROR_RATE, catalogue=catalogue)
    barrier = threading.Barrier(2, timeout=20)
    met: list[bool] = []
    prepare = load._prepare

    def meeting_prepare(run, f):
        if len(met) < 2:
            met.append(True)
            barrier.wait()  # BrokenBarrierError after 20 s when no second thread comes
        return prepare(run, f)

    monkeypatch.setattr(load, "_prepare", meeting_prepare)
    report = ingest_inbox(Paths(tmp_path).ensure(), catalogue, key=KEY)
    assert met == [True, True] and len(report.files) > 2


def test_validation_finds_what_the_whole_pandera_schema_finds(tmp_path):
    """Pandera's data checks run only on the fields that fail somewhere in the file
    (``failure_cases``): on demo deliveries with 30 % errors, every category, the
    failures — (field, rule, row) — are exactly those of the whole schema validated at
    once, clean files included; and a frame that does not fit the schema's structure is
    an error, not a clean file."""
    import pandera.polars as pa
    import polars as pl
    import pytest

    from pipelines.catalogue import load_catalogue
    from pipelines.catalogue.schemas import SchemaContext, build_schema
    from pipelines.demo import generate_demo
    from pipelines.ingest import normalize
    from pipelines.ingest.discover import discover
    from pipelines.ingest.readers import UnreadableFile, read_bytes
    from pipelines.ingest.validate import _fits, failure_cases
    from pipelines.settings import Paths

    catalogue = load_catalogue()
    generate_demo(tmp_path, subjects=200, seed=SEED, error_rate=0.3, catalogue=catalogue)
    clean, failing, categories = 0, 0, set()
    for f in discover(Paths(tmp_path).inbox, catalogue):
        if f.category is None or f.batch_date is None:
            continue
        try:
            read = read_bytes(f.path.read_bytes(), f.file_format, 65536)
        except UnreadableFile:
            continue
        mapping = normalize.map_headers(read.frame.columns, f.category)
        if mapping.missing_required:
            continue
        frame = normalize.normalize_frame(read.frame, mapping, f.category, catalogue,
                                          numeric_cells=read.numeric_cells)
        ctx = SchemaContext.for_batch(catalogue, f.batch_date)
        try:
            build_schema(f.category, ctx).validate(frame, lazy=True)
            whole = set()
        except pa.errors.SchemaErrors as err:
            whole = set(err.failure_cases.select("column", "check", "index").rows())
        got = set(failure_cases(frame, f.category, ctx).rows())
        assert got == whole, f.source_file
        failing += bool(whole)
        clean += not whole
        categories.add(f.category.id)
        # the structure is still checked on a clean file: a column of the wrong type
        date = next((fl.name for fl in f.category.fields if fl.type == "date"), None)
        if date is not None:
            broken = frame.with_columns(pl.col(date).cast(pl.String))
            with pytest.raises(RuntimeError, match="does not fit its pandera schema"):
                failure_cases(broken, f.category, ctx)
            with pytest.raises(RuntimeError, match="does not fit its pandera schema"):
                failure_cases(frame.drop(date), f.category, ctx)
        # a normalised frame has the schema's exact types: pandera's structure pass is skipped
        assert _fits(frame, build_schema(f.category, ctx)), f.source_file
    assert categories == set(catalogue.categories)
    assert clean and failing


def test_preload_imports_pandera_in_the_background():
    """The ingest asset starts pandera's import before it opens the warehouse; the module
    itself does not import pandera (a run with nothing to validate never needs it)."""
    import subprocess
    import sys

    code = ("import sys, threading; from pipelines.ingest import validate; {call}"
            "[t.join() for t in threading.enumerate() if t.name == 'pandera-import']; "
            "print('pandera.polars' in sys.modules)")
    def run(call: str) -> str:
        return subprocess.run([sys.executable, "-c", code.format(call=call)], capture_output=True, text=True,
                              check=True).stdout.strip()
    assert run("") == "False"
    assert run("validate.preload(); validate.preload(); ") == "True"
