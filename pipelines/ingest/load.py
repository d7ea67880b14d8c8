"""Load delivered files into DuckDB: ``raw.<category>`` and ``audit.*``.

One transaction per file (raw insert, ``audit.row_outcomes``, ``audit.rejected_rows``,
``audit.loads`` and a ``ingest_state.pending_supersession`` marker): a crash mid-file
leaves nothing of it, and the next run loads it. Supersession (``is_current``,
``superseded_by``, outcome ``superseded``) is then applied once per run for every marked
load, in one transaction per run (:func:`_supersede_pending`): a category's table is
read once per run, not once per file. A run that dies between the two leaves markers,
and the next run finishes their supersession with its own. Original bytes are archived to
``archive/<sha256[:2]>/<sha256>`` (content-addressed, written before the transaction; an
orphan copy is harmless).

A file already recorded is recognised by its stat signature (size, mtime, ctime, inode)
in ``ingest_state.inbox_files`` without reading it again; anything else is read and
hashed (docs/architecture.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from ..catalogue import Catalogue, Category
from ..catalogue.model import SUBJECT_CODE_FIELDS
from ..catalogue.schemas import SchemaContext
from ..settings import Paths, duckdb_config
from .discover import FileProblem, InboxFile, discover
from .normalize import FLAGS, MONEY_SUSPICIOUS, map_headers, normalize_frame
from .readers import DEFAULT_SAMPLE_BYTES, ReadResult, UnreadableFile, read_bytes
from .validate import ROW, validate_frame

_SQL_TYPES = {
    "text": "VARCHAR",
    "code": "VARCHAR",
    "enum": "VARCHAR",
    "enum_list": "VARCHAR",
    "date": "DATE",
    "money": "DOUBLE",
    "int": "BIGINT",
}
LINEAGE_COLUMNS: list[tuple[str, str]] = [
    ("source_file", "VARCHAR"),
    ("source_row", "BIGINT"),
    ("department_code", "VARCHAR"),
    ("batch", "VARCHAR"),
    ("batch_date", "DATE"),
    ("load_id", "VARCHAR"),
    ("loaded_at", "TIMESTAMP"),
    ("record_key", "VARCHAR"),
    ("is_current", "BOOLEAN"),
    ("superseded_by", "VARCHAR"),
    ("flags", "VARCHAR[]"),
    ("money_suspicious", "BOOLEAN"),
    ("extra", "JSON"),
]
AUDIT_TABLES: dict[str, list[tuple[str, str]]] = {
    "loads": [
        ("load_id", "VARCHAR"),
        ("source_file", "VARCHAR"),
        ("department_code", "VARCHAR"),
        ("category", "VARCHAR"),
        ("batch", "VARCHAR"),
        ("batch_date", "DATE"),
        ("sha256", "VARCHAR"),
        ("file_format", "VARCHAR"),
        ("encoding", "VARCHAR"),
        ("rows_read", "BIGINT"),
        ("rows_loaded", "BIGINT"),
        ("rows_rejected", "BIGINT"),
        ("rows_duplicate", "BIGINT"),
        ("status", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("extra_columns", "VARCHAR[]"),
        ("flags", "VARCHAR[]"),
        ("archive_path", "VARCHAR"),
        ("loaded_at", "TIMESTAMP"),
        ("rule", "VARCHAR"),  # file-level rule id of a rejected_file / duplicate_file
    ],
    "row_outcomes": [
        ("source_file", "VARCHAR"),
        ("source_row", "BIGINT"),
        ("category", "VARCHAR"),
        ("department_code", "VARCHAR"),
        ("load_id", "VARCHAR"),
        ("outcome", "VARCHAR"),
        ("record_id", "VARCHAR"),
    ],
    "rejected_rows": [
        ("source_file", "VARCHAR"),
        ("source_row", "BIGINT"),
        ("department_code", "VARCHAR"),
        ("category", "VARCHAR"),
        ("reasons", "VARCHAR"),
        ("rule_ids", "VARCHAR[]"),
        ("raw", "JSON"),
    ],
}

# Ingestion's own bookkeeping (not part of the published warehouse; docs/architecture.md).
STATE_SCHEMA = "ingest_state"
STATE_TABLES: dict[str, list[tuple[str, str]]] = {
    # loads committed whose supersession is not applied yet (one row per load)
    "pending_supersession": [
        ("load_id", "VARCHAR"),
        ("category", "VARCHAR"),
        ("loaded_at", "TIMESTAMP"),
    ],
    # the stat signature a file had when it was hashed: a re-run skips it unread
    "inbox_files": [
        ("source_file", "VARCHAR"),
        ("stat_signature", "VARCHAR"),
        ("sha256", "VARCHAR"),
    ],
}
# A signature is trusted only when the file was last changed this long before it was
# hashed: a later rewrite then always gets another mtime/ctime, even on file systems with
# coarse timestamps (the "racy" case of git's index).
STABLE_AFTER_NS = 2_000_000_000
# files prepared ahead of the one being written (catalogs/ingest.yaml: prepare_ahead)
DEFAULT_PREPARE_AHEAD = 2

# Test hook: called inside the file's transaction right after the raw insert.
_after_raw_insert: Callable[[InboxFile], None] | None = None


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(v: str | None) -> str:
    return "NULL" if v is None else "'" + str(v).replace("'", "''") + "'"


def raw_columns(cat: Category) -> list[tuple[str, str]]:
    """Columns of ``raw.<category>`` in order (docs/architecture.md)."""
    cols = [("record_id", "VARCHAR")]
    for f in cat.fields:
        cols.append((f.name, _SQL_TYPES[f.type]))
        if f.personal:
            cols.append((f"{f.name}_hash", "VARCHAR"))
            if f.type == "code" and f.code_kind == "id_no":
                cols.append((f"{f.name}_masked", "VARCHAR"))
    return cols + LINEAGE_COLUMNS


def _ensure_table(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, cols: list[tuple[str, str]], have: set[str] | None
) -> None:
    """Create the table, or add the columns it lacks (``have``: its columns, None when it
    does not exist)."""
    if have is None:
        body = ", ".join(f"{_q(n)} {t}" for n, t in cols)
        con.execute(f"CREATE TABLE IF NOT EXISTS {schema}.{_q(table)} ({body})")
        return
    for n, t in cols:  # a field added to the catalogue is a new nullable column
        if n not in have:
            con.execute(f"ALTER TABLE {schema}.{_q(table)} ADD COLUMN {_q(n)} {t}")


def ensure_tables(con: duckdb.DuckDBPyConnection, catalogue: Catalogue) -> None:
    """Create schemas ``raw``, ``audit`` and ``ingest_state`` and their tables from the
    catalogue (one look at the existing columns, then only the missing DDL)."""
    for schema in ("raw", "audit", STATE_SCHEMA):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    have: dict[tuple[str, str], set[str]] = {}
    for schema, table, column in con.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_schema IN ('raw', 'audit', ?)",
        [STATE_SCHEMA],
    ).fetchall():
        have.setdefault((schema, table), set()).add(column)
    for name, cols in AUDIT_TABLES.items():
        _ensure_table(con, "audit", name, cols, have.get(("audit", name)))
    for cat in catalogue.categories.values():
        _ensure_table(con, "raw", cat.id, raw_columns(cat), have.get(("raw", cat.id)))
    for name, cols in STATE_TABLES.items():
        _ensure_table(con, STATE_SCHEMA, name, cols, have.get((STATE_SCHEMA, name)))


# ---------------------------------------------------------------- results


@dataclass
class FileResult:
    source_file: str
    department_code: str
    category: str | None
    batch: str
    batch_date: dt.date | None
    sha256: str
    status: str  # loaded | duplicate_file | rejected_file | skipped (already recorded)
    rule: str | None = None  # file-level rule id when rejected_file
    reason: str | None = None
    load_id: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    # rows (of any file) that stopped being current because of this file: superseded by
    # one of its records, or its own records when a later version was already loaded
    rows_superseded: int = 0
    extra_columns: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


@dataclass
class CategoryStats:
    files: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    rows_superseded: int = 0

    @property
    def rejection_rate(self) -> float:
        return self.rows_rejected / self.rows_read if self.rows_read else 0.0


@dataclass
class IngestReport:
    files: list[FileResult] = field(default_factory=list)
    categories: dict[str, CategoryStats] = field(default_factory=dict)

    @property
    def processed(self) -> list[FileResult]:
        return [f for f in self.files if f.status != "skipped"]

    def by_status(self, status: str) -> list[FileResult]:
        return [f for f in self.files if f.status == status]


# ---------------------------------------------------------------- helpers


def archive_bytes(paths: Paths, data: bytes, sha: str) -> str:
    """Write ``archive/<sha[:2]>/<sha>`` once (temp name + rename); return it relative
    to the data dir."""
    rel = Path("archive") / sha[:2] / sha
    dest = paths.data_dir / rel
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{sha}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, dest)
    return rel.as_posix()


def _load_id(source_file: str, sha: str) -> str:
    return hashlib.sha256(f"{source_file}#{sha}".encode()).hexdigest()[:16]


def _record_id_sql(source_file: str, row_sql: str) -> str:
    return f"substr(sha256({_lit(source_file + '#')} || CAST({row_sql} AS VARCHAR)), 1, 20)"


@dataclass
class _Run:
    paths: Paths
    catalogue: Catalogue
    con: duckdb.DuckDBPyConnection
    key: bytes
    loaded_at: dt.datetime
    recorded: dict[str, set[str]]  # source_file -> sha256s in audit.loads
    loaded_sha: dict[str, str]  # sha256 -> source_file of a loaded file
    sample_bytes: int = DEFAULT_SAMPLE_BYTES
    # source_file -> (stat signature, sha256) from ingest_state.inbox_files
    file_index: dict[str, tuple[str, str]] = field(default_factory=dict)
    # entries to write back at the end of the run (files hashed in this run)
    index_updates: dict[str, tuple[str, str]] = field(default_factory=dict)
    trust_stat: bool = True


def _insert_loads(run: _Run, f: InboxFile, res: FileResult, enc: str | None, archive: str | None) -> None:
    run.con.execute(
        "INSERT INTO audit.loads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            res.load_id,
            f.source_file,
            f.department_code,
            res.category,
            f.batch,
            f.batch_date,
            res.sha256,
            f.file_format,
            enc,
            res.rows_read,
            res.rows_loaded,
            res.rows_rejected,
            res.rows_duplicate,
            res.status,
            res.reason,
            res.extra_columns,
            res.flags,
            archive,
            run.loaded_at,
            res.rule,
        ],
    )


def _insert_outcomes(run: _Run, f: InboxFile, res: FileResult, outcomes: pl.DataFrame) -> None:
    """``outcomes``: ``__row`` (0-based) and ``outcome``."""
    run.con.register("_outcomes", outcomes.to_arrow())
    try:
        rid = _record_id_sql(f.source_file, f"{ROW} + 1")
        run.con.execute(
            f"""INSERT INTO audit.row_outcomes
            SELECT {_lit(f.source_file)}, {ROW} + 1, {_lit(res.category)}, {_lit(f.department_code)},
                   {_lit(res.load_id)}, outcome,
                   CASE WHEN outcome IN ('loaded', 'superseded') THEN {rid} END
            FROM _outcomes"""
        )
    finally:
        run.con.unregister("_outcomes")


def _insert_rejected(run: _Run, f: InboxFile, res: FileResult, rej: pl.DataFrame) -> None:
    """``rej``: ``__row``, ``reasons``, ``rule_ids``, ``raw`` (JSON text)."""
    if rej.height == 0:
        return
    run.con.register("_rejected", rej.to_arrow())
    try:
        run.con.execute(
            f"""INSERT INTO audit.rejected_rows
            SELECT {_lit(f.source_file)}, {ROW} + 1, {_lit(f.department_code)}, {_lit(res.category)},
                   reasons, rule_ids, CAST(raw AS JSON)
            FROM _rejected"""
        )
    finally:
        run.con.unregister("_rejected")


def _normalized_code_sql(col: str) -> str:
    """``normalize_code_sql(col)``, skipping DuckDB's ``translate`` (which rebuilds its
    character map for every row) when the value only holds characters it leaves alone."""
    from ..codes.privacy import normalize_code_sql

    return f"CASE WHEN regexp_full_match({col}, '[0-9A-Z]*') THEN {col} ELSE {normalize_code_sql(col)} END"


def _keyed_hash_of_normalized_sql(col: str, norm_col: str, key: bytes) -> str:
    """``keyed_hash_sql(col, key)`` with the normalised value read from ``norm_col``."""
    from ..codes.privacy import keyed_hash_sql, normalize_code_sql

    sql, n = keyed_hash_sql(col, key), normalize_code_sql(col)
    if sql.count(n) != 3:  # the formula changed: fall back to it as is
        return sql
    return sql.replace(n, norm_col)


def _first_occurrence(df: pl.DataFrame) -> pl.Series:
    """True for the first of exactly equal rows. Row hashes find candidates;
    equality is then checked exactly on those only."""
    cand = df.hash_rows().is_duplicated()
    if not cand.any():
        return pl.repeat(True, df.height, eager=True, dtype=pl.Boolean)
    idx = cand.arg_true()
    sub_first = df[idx].select(pl.struct(pl.all()).is_first_distinct())[:, 0]
    return pl.repeat(True, df.height, eager=True, dtype=pl.Boolean).scatter(idx, sub_first)


def _raw_json(df: pl.DataFrame) -> pl.Expr:
    """The row as read, original headers, as JSON text."""
    return pl.struct([pl.col(c) for c in df.columns]).struct.json_encode()


@contextmanager
def _file_transaction(con: duckdb.DuckDBPyConnection, res: FileResult) -> Iterator[None]:
    """Everything one file writes, or nothing: on any failure the file's rows, outcomes
    and audit row are rolled back and it is left for the next run (status ``skipped``)."""
    con.begin()
    try:
        yield
        con.commit()
    except BaseException:
        con.rollback()
        res.status = "skipped"
        raise


def _file_level(
    run: _Run,
    f: InboxFile,
    res: FileResult,
    problem: FileProblem,
    *,
    read: ReadResult | None = None,
    archive: str | None,
    outcome: str | None = None,
) -> FileResult:
    """A whole file rejected / duplicate: its readable rows get ``outcome``."""
    res.status = "duplicate_file" if problem.rule == "duplicate_file" else "rejected_file"
    res.rule = problem.rule
    res.reason = problem.reason
    con = run.con
    with _file_transaction(con, res):
        if read is not None and outcome is not None:
            n = read.frame.height
            res.rows_read = n
            rows = pl.DataFrame({ROW: pl.int_range(0, n, eager=True, dtype=pl.Int64)})
            if outcome == "duplicate":
                res.rows_duplicate = n
            else:
                res.rows_rejected = n
            _insert_outcomes(run, f, res, rows.with_columns(outcome=pl.lit(outcome)))
            if outcome == "rejected":
                rej = read.frame.select(
                    pl.int_range(0, n, dtype=pl.Int64).alias(ROW),
                    pl.lit(problem.reason).alias("reasons"),
                    pl.lit([problem.rule], dtype=pl.List(pl.String)).alias("rule_ids"),
                    _raw_json(read.frame).alias("raw"),
                )
                _insert_rejected(run, f, res, rej)
        _insert_loads(run, f, res, read.encoding if read else None, archive)
    return res


# ---------------------------------------------------------------- one file


def _stat_signature(path: Path) -> tuple[str, bool]:
    """The file's stat signature, and whether it may be trusted later (the file was last
    changed at least ``STABLE_AFTER_NS`` before now)."""
    now = time.time_ns()
    st = path.stat()
    sig = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"
    return sig, max(st.st_mtime_ns, st.st_ctime_ns) < now - STABLE_AFTER_NS


def _read_file(path: Path) -> bytes:
    """The delivered bytes (one place, so tests can count the reads)."""
    return path.read_bytes()


def _result(f: InboxFile, sha: str) -> FileResult:
    cat = f.category
    return FileResult(
        source_file=f.source_file,
        department_code=f.department_code,
        category=cat.id if cat and not (f.problem and f.problem.rule == "unknown_category") else None,
        batch=f.batch,
        batch_date=f.batch_date,
        sha256=sha,
        status="skipped",
        load_id=_load_id(f.source_file, sha),
    )


@dataclass
class _Prepared:
    """One file made ready without the warehouse connection (``_prepare``), to be written
    by ``_finish`` in delivery order."""

    res: FileResult
    done: bool = False  # nothing to write (already recorded)
    archive: str | None = None
    read: ReadResult | None = None  # set once the file was read as a table
    problem: FileProblem | None = None  # the whole file is rejected
    outcome: str | None = None  # the outcome of its readable rows then
    load_df: pl.DataFrame | None = None
    status: pl.DataFrame | None = None
    rej_df: pl.DataFrame | None = None
    insert_sql: str | None = None


def _duplicate_problem(run: _Run, sha: str) -> FileProblem:
    return FileProblem("duplicate_file", f"与已入库的文件 {run.loaded_sha[sha]} 内容完全相同")


def _prepare(run: _Run, f: InboxFile) -> _Prepared:
    """Everything about one file that needs no warehouse connection: read, hash, archive,
    parse, normalise, validate, and the INSERT to run. Runs in a thread while the previous
    file is written; it only reads ``run`` (``run.loaded_sha`` may still lack the files
    not finished yet: ``_finish`` checks it again)."""
    seen = run.recorded.get(f.source_file, set())
    # stat before reading: a rewrite during the read then shows as another signature
    sig, stable = _stat_signature(f.path)
    cached = run.file_index.get(f.source_file)
    if run.trust_stat and cached is not None and cached[0] == sig and cached[1] in seen:
        return _Prepared(_result(f, cached[1]), done=True)  # recorded, unchanged since: not read
    data = _read_file(f.path)
    sha = hashlib.sha256(data).hexdigest()
    if stable and cached != (sig, sha):
        run.index_updates[f.source_file] = (sig, sha)
    res = _result(f, sha)
    if sha in seen:
        return _Prepared(res, done=True)  # already recorded: idempotent re-run
    # the archive copy is written while the file is parsed (both release the GIL); it is
    # on disk before _prepare returns, so before the file's transaction can commit
    archiving = _ARCHIVE_POOL.submit(archive_bytes, run.paths, data, sha)
    try:
        p = _prepare_read(run, f, res, data, bool(seen))
    finally:
        archive = archiving.result()
    p.archive = archive
    return p


_ARCHIVE_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-archive")


def _prepare_read(run: _Run, f: InboxFile, res: FileResult, data: bytes, seen: bool) -> _Prepared:
    """``_prepare`` from the file's bytes on (the caller adds the archive path)."""
    cat = f.category
    sha = res.sha256
    if seen:
        return _Prepared(res, problem=FileProblem(
            "changed_file", "同一路径的文件内容已变更（与已入库的文件不同），请以新批次重新报送"
        ))
    if f.problem is not None:
        return _Prepared(res, problem=f.problem)
    assert cat is not None and f.batch_date is not None
    try:
        read = read_bytes(data, f.file_format, run.sample_bytes)
    except UnreadableFile as e:
        return _Prepared(res, problem=FileProblem(e.rule, e.reason))
    if sha in run.loaded_sha:
        return _Prepared(res, read=read, problem=_duplicate_problem(run, sha), outcome="duplicate")
    mapping = map_headers(read.frame.columns, cat)
    res.extra_columns = list(mapping.extra)
    if mapping.missing_required:
        return _Prepared(res, read=read,
                         problem=FileProblem("missing_column", mapping.missing_reason), outcome="rejected")
    dept = run.catalogue.departments[f.department_code]
    not_submitted = None
    if cat.id not in dept.submits:
        not_submitted = f"{dept.name}（{dept.code}）未登记报送「{cat.name}」"
        res.flags.append(not_submitted)
    ctx = SchemaContext.for_batch(run.catalogue, f.batch_date)
    frame = normalize_frame(
        read.frame, mapping, cat, run.catalogue,
        numeric_cells=read.numeric_cells, not_submitted_flag=not_submitted,
    )
    n = frame.height
    # Exact duplicates are judged on the catalogue fields after normalisation: columns
    # kept aside (a 序号 row number, an entry timestamp) never make two copies differ.
    first = _first_occurrence(frame.select(cat.field_names))
    rejected = validate_frame(frame, cat, ctx)
    status = pl.DataFrame({ROW: pl.int_range(0, n, eager=True, dtype=pl.Int64), "first": first})
    status = status.join(rejected.select(ROW, pl.lit(True).alias("bad")), on=ROW, how="left").select(
        ROW,
        pl.when(~pl.col("first")).then(pl.lit("duplicate"))
        .when(pl.col("bad").fill_null(False)).then(pl.lit("rejected"))
        .otherwise(pl.lit("loaded")).alias("outcome"),
    ).sort(ROW)
    outcome = status["outcome"]
    res.rows_read = n
    res.rows_loaded = int((outcome == "loaded").sum())
    res.rows_rejected = int((outcome == "rejected").sum())
    res.rows_duplicate = int((outcome == "duplicate").sum())
    excel_flags = int(frame[FLAGS].list.eval(pl.element().str.contains("Excel")).list.any().sum()) if read.numeric_cells else 0
    if excel_flags:
        res.flags.append(f"{excel_flags} 行的代码在 Excel 中被存为数字，末位可能已失真")
    n_susp = int(frame[MONEY_SUSPICIOUS].sum())
    if n_susp:
        res.flags.append(f"{n_susp} 行的金额超过 {run.catalogue.setting('ingest.money.suspicious_above')} 万元")

    # rows to load
    keep = outcome == "loaded"
    load_df = frame.with_columns(pl.int_range(0, n, dtype=pl.Int64).alias(ROW))
    if mapping.extra:
        load_df = load_df.with_columns(
            read.frame.select(pl.struct([pl.col(c) for c in mapping.extra]).struct.json_encode().alias("__extra"))
        )
    else:
        load_df = load_df.with_columns(pl.lit(None, dtype=pl.String).alias("__extra"))
    load_df = load_df.filter(keep)
    from ..codes.privacy import mask_id_expr

    masked = [
        mask_id_expr(pl.col(fl.name)).alias(f"{fl.name}_masked")
        for fl in cat.fields
        if fl.personal and fl.type == "code" and fl.code_kind == "id_no"
    ]
    cols = [fl.name for fl in cat.fields]
    load_df = load_df.select([ROW, *cols, *masked, FLAGS, MONEY_SUSPICIOUS, "__extra"])

    rej_df = None
    if res.rows_rejected:
        rej_rows = status.filter(pl.col("outcome") == "rejected")[ROW]
        raw_json = read.frame[rej_rows].select(_raw_json(read.frame).alias("raw"))["raw"]
        rej_df = pl.DataFrame({ROW: rej_rows, "raw": raw_json}).join(rejected, on=ROW, how="left").select(
            ROW, "reasons", "rule_ids", "raw"
        )

    key_parts = []
    for k in cat.record_key:
        if k == "department_code":
            key_parts.append(_lit(f.department_code))
        elif k == "subject_code":
            codes = [_q(c) for c in SUBJECT_CODE_FIELDS if c in cat.by_name]
            key_parts.append(f"coalesce({', '.join(codes)}, '')" if codes else "''")
        else:
            key_parts.append(f"coalesce(CAST({_q(k)} AS VARCHAR), '')")
    record_key = f"sha256(concat_ws(chr(31), {', '.join(key_parts)}))"
    select = [f"{_record_id_sql(f.source_file, f'{ROW} + 1')} AS record_id"]
    inner = ["*"]  # personal values normalised once per row, not once per use
    for fl in cat.fields:
        select.append(_q(fl.name))
        if fl.personal:
            ncol = _q(f"__norm__{fl.name}")
            inner.append(f"{_normalized_code_sql(_q(fl.name))} AS {ncol}")
            select.append(f"{_keyed_hash_of_normalized_sql(_q(fl.name), ncol, run.key)} AS {_q(fl.name + '_hash')}")
            if fl.type == "code" and fl.code_kind == "id_no":
                select.append(_q(fl.name + "_masked"))
    select += [
        f"{_lit(f.source_file)}",
        f"{ROW} + 1",
        _lit(f.department_code),
        _lit(f.batch),
        f"DATE {_lit(f.batch_date.isoformat())}",
        _lit(res.load_id),
        f"TIMESTAMP {_lit(run.loaded_at.isoformat(sep=' '))}",
        record_key,
        "TRUE",
        "CAST(NULL AS VARCHAR)",
        FLAGS,
        MONEY_SUSPICIOUS,
        "CAST(__extra AS JSON)",
    ]
    target_cols = ", ".join(_q(c) for c, _ in raw_columns(cat))
    insert_sql = (
        f"INSERT INTO raw.{_q(cat.id)} ({target_cols}) SELECT {', '.join(select)} "
        f"FROM (SELECT {', '.join(inner)} FROM _load)"
    )
    return _Prepared(res, read=read, load_df=load_df, status=status, rej_df=rej_df, insert_sql=insert_sql)


def _finish(run: _Run, f: InboxFile, p: _Prepared) -> FileResult:
    """Write one prepared file: all of it in one transaction, or nothing."""
    if p.done:
        return p.res
    res = p.res
    if p.read is not None and p.problem is None and res.sha256 in run.loaded_sha:
        # the same content as a file finished after this one was prepared
        return _file_level(run, f, _result(f, res.sha256), _duplicate_problem(run, res.sha256),
                           read=p.read, archive=p.archive, outcome="duplicate")
    if p.problem is not None:
        return _file_level(run, f, res, p.problem, read=p.read, archive=p.archive, outcome=p.outcome)
    assert p.read is not None and p.load_df is not None and p.status is not None and p.insert_sql
    con = run.con
    with _file_transaction(con, res):
        con.register("_load", p.load_df.to_arrow())
        try:
            con.execute(p.insert_sql)
        finally:
            con.unregister("_load")
        if _after_raw_insert is not None:
            _after_raw_insert(f)
        _insert_outcomes(run, f, res, p.status)
        if p.rej_df is not None:
            _insert_rejected(run, f, res, p.rej_df)
        res.status = "loaded"
        _insert_loads(run, f, res, p.read.encoding, p.archive)
        if res.rows_loaded:  # supersession at the end of the run (_supersede_pending)
            con.execute(
                f"INSERT INTO {STATE_SCHEMA}.pending_supersession VALUES (?, ?, ?)",
                [res.load_id, res.category, run.loaded_at],
            )
    return res


def _process(run: _Run, f: InboxFile) -> FileResult:
    """One file, prepared and written in this thread."""
    return _finish(run, f, _prepare(run, f))


def _processed(run: _Run, files: list[InboxFile], ahead: int) -> Iterator[tuple[InboxFile, FileResult]]:
    """Each file's result in delivery order; with ``ahead`` > 0 the next ``ahead`` files are
    prepared in as many threads while one is written (parsing and validation in polars
    overlap DuckDB's insert and commit, and two files' validations, much of them pandera's
    Python per check, overlap each other). Results and their order are the same either
    way."""
    if ahead <= 0 or len(files) < 2:
        for f in files:
            yield f, _process(run, f)
        return
    with ThreadPoolExecutor(max_workers=ahead, thread_name_prefix="ingest-prepare") as pool:
        pending: deque = deque()
        try:
            for f in files:
                pending.append((f, pool.submit(_prepare, run, f)))
                if len(pending) > ahead:
                    g, fut = pending.popleft()
                    yield g, _finish(run, g, fut.result())
            while pending:
                g, fut = pending.popleft()
                yield g, _finish(run, g, fut.result())
        finally:
            for _, fut in pending:
                fut.cancel()


def _supersede_pending(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, int]]:
    """Apply supersession for every load in ``ingest_state.pending_supersession``, in one
    transaction: for the record keys those loads hold, the greatest (batch_date, batch,
    source_file, source_row) is current and the others point to it (docs/architecture.md).

    Per category touched, the table's ``record_key`` column is read once, whatever the
    number of files: the new rows' keys come from the row groups of the pending loads
    (``loaded_at`` prunes the rest), the rows holding them are found by one scan, and the
    few whose key has several versions are fetched, ranked and updated by ``rowid``. The
    outcomes are updated once per run, restricted to the files of the changed rows.

    Returns load_id -> (category, rows that stopped being current), attributed to the load
    of the current record when it is pending, else to the load of the row itself (a late
    older delivery)."""
    pending = con.execute(
        f"SELECT load_id, category, loaded_at FROM {STATE_SCHEMA}.pending_supersession ORDER BY ALL"
    ).fetchall()
    if not pending:
        return {}
    by_cat: dict[str, list[tuple[str, dt.datetime]]] = {}
    for load_id, category, loaded_at in pending:
        by_cat.setdefault(category, []).append((load_id, loaded_at))
    all_ids = ", ".join(_lit(lid) for lid, _, _ in pending)
    con.begin()
    try:
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _sup (category VARCHAR, rid BIGINT, record_id VARCHAR,
            source_file VARCHAR, cur BOOLEAN, was_current BOOLEAN, sup_by VARCHAR, load_id VARCHAR,
            top_load_id VARCHAR)"""
        )
        for category, loads in sorted(by_cat.items()):
            table = f"raw.{_q(category)}"
            ids = ", ".join(_lit(lid) for lid, _ in loads)
            stamps = ", ".join(f"TIMESTAMP {_lit(at.isoformat(sep=' '))}" for at in sorted({at for _, at in loads}))
            # every row holding a key of the pending loads (one read of record_key) ...
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE _hits AS
                SELECT rowid AS rid, record_key FROM {table}
                WHERE record_key IN (SELECT record_key FROM {table}
                                     WHERE loaded_at IN ({stamps}) AND load_id IN ({ids}))"""
            )
            # ... and, for the keys held by more than one, those rows fetched by rowid and ranked
            con.execute(
                f"""INSERT INTO _sup
                WITH multi AS (
                    SELECT rid FROM _hits WHERE record_key IN (
                        SELECT record_key FROM _hits GROUP BY record_key HAVING count(*) > 1)
                ),
                ranked AS (
                    SELECT rowid AS rid, record_id, source_file, load_id, is_current, superseded_by,
                           first_value(record_id) OVER w AS top, first_value(load_id) OVER w AS top_load_id
                    FROM {table} WHERE rowid IN (SELECT rid FROM multi)
                    WINDOW w AS (PARTITION BY record_key
                                 ORDER BY batch_date DESC, batch DESC, source_file DESC, source_row DESC)
                )
                SELECT {_lit(category)}, rid, record_id, source_file, record_id = top, is_current,
                       CASE WHEN record_id = top THEN NULL ELSE top END, load_id, top_load_id
                FROM ranked
                WHERE is_current IS DISTINCT FROM (record_id = top)
                   OR superseded_by IS DISTINCT FROM (CASE WHEN record_id = top THEN NULL ELSE top END)"""
            )
            con.execute(
                f"""UPDATE {table} SET is_current = s.cur, superseded_by = s.sup_by
                FROM _sup s WHERE s.category = {_lit(category)} AND {table}.rowid = s.rid"""
            )
        files = [r[0] for r in con.execute("SELECT DISTINCT source_file FROM _sup ORDER BY 1").fetchall()]
        if files:
            # record_id is derived from (source_file, source_row): a row's outcome and its
            # raw row carry the same source_file, and the literal list lets the scan skip
            # row groups of other files.
            con.execute(
                f"""UPDATE audit.row_outcomes
                SET outcome = CASE WHEN s.cur THEN 'loaded' ELSE 'superseded' END
                FROM _sup s WHERE audit.row_outcomes.source_file IN ({", ".join(_lit(f) for f in files)})
                  AND audit.row_outcomes.record_id = s.record_id"""
            )
        counts = con.execute(
            f"""SELECT CASE WHEN top_load_id IN ({all_ids}) THEN top_load_id ELSE load_id END AS by_load,
                       count(*)
                FROM _sup WHERE was_current AND NOT cur GROUP BY 1"""
        ).fetchall()
        con.execute(f"DELETE FROM {STATE_SCHEMA}.pending_supersession WHERE load_id IN ({all_ids})")
        con.execute("DROP TABLE _sup")
        con.execute("DROP TABLE IF EXISTS _hits")
        con.commit()
    except BaseException:
        con.rollback()
        raise
    category_of = {lid: category for lid, category, _ in pending}
    return {lid: (category_of[lid], int(n)) for lid, n in counts}


def _save_file_index(con: duckdb.DuckDBPyConnection, updates: dict[str, tuple[str, str]]) -> None:
    """Record the stat signatures of the files hashed in this run."""
    if not updates:
        return
    df = pl.DataFrame(
        [(sf, sig, sha) for sf, (sig, sha) in sorted(updates.items())],
        schema=["source_file", "stat_signature", "sha256"],
        orient="row",
    )
    con.register("_index", df.to_arrow())
    con.begin()
    try:
        con.execute(
            f"DELETE FROM {STATE_SCHEMA}.inbox_files WHERE source_file IN (SELECT source_file FROM _index)"
        )
        con.execute(f"INSERT INTO {STATE_SCHEMA}.inbox_files SELECT source_file, stat_signature, sha256 FROM _index")
        con.commit()
    except BaseException:
        con.rollback()
        raise
    finally:
        con.unregister("_index")


# ---------------------------------------------------------------- entry point


def ingest_inbox(
    paths: Paths,
    catalogue: Catalogue,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    key: bytes | None = None,
    trust_stat: bool = True,
    prepare_ahead: int | None = None,
) -> IngestReport:
    """Ingest every file of ``paths.inbox`` not yet recorded, in delivery order.

    ``trust_stat=False`` reads and hashes every file again instead of recognising the
    recorded ones by their stat signature (``ingest_state.inbox_files``)."""
    own = con is None
    if own:
        paths.warehouse_dir.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(paths.warehouse), config=duckdb_config())
    try:
        if key is None:
            from ..codes.privacy import pseudonym_key

            key = pseudonym_key(paths.data_dir)
        ensure_tables(con, catalogue)
        from ..codes.privacy import check_pseudonym_key

        check_pseudonym_key(con, key, paths.data_dir)
        recorded: dict[str, set[str]] = {}
        loaded_sha: dict[str, str] = {}
        for sf, sha, status in con.execute(
            "SELECT source_file, sha256, status FROM audit.loads ORDER BY loaded_at, source_file"
        ).fetchall():
            recorded.setdefault(sf, set()).add(sha)
            if status == "loaded":
                loaded_sha.setdefault(sha, sf)
        file_index = {
            sf: (sig, sha)
            for sf, sig, sha in con.execute(
                f"SELECT source_file, stat_signature, sha256 FROM {STATE_SCHEMA}.inbox_files"
            ).fetchall()
        }
        try:
            sample = int(catalogue.setting("ingest.encoding.sample_bytes"))
        except (KeyError, TypeError, ValueError):
            sample = DEFAULT_SAMPLE_BYTES
        try:
            ahead = int(catalogue.setting("ingest.prepare_ahead"))
        except (KeyError, TypeError, ValueError):
            ahead = DEFAULT_PREPARE_AHEAD
        if prepare_ahead is not None:
            ahead = prepare_ahead
        run = _Run(
            paths=paths,
            catalogue=catalogue,
            con=con,
            key=key,
            loaded_at=dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0),
            recorded=recorded,
            loaded_sha=loaded_sha,
            sample_bytes=sample,
            file_index=file_index,
            trust_stat=trust_stat,
        )
        report = IngestReport()
        try:
            for f, res in _processed(run, list(discover(paths.inbox, catalogue)), ahead):
                report.files.append(res)
                if res.status == "skipped":
                    continue
                run.recorded.setdefault(f.source_file, set()).add(res.sha256)
                if res.status == "loaded":
                    run.loaded_sha.setdefault(res.sha256, f.source_file)
        except BaseException:
            # the files committed so far get their supersession now; a failure of that
            # leaves the markers for the next run and must not hide the original error
            try:
                _supersede_pending(con)
                _save_file_index(con, run.index_updates)
            except Exception:  # noqa: BLE001
                pass
            raise
        superseded = _supersede_pending(con)
        _save_file_index(con, run.index_updates)
        by_load = {res.load_id: res for res in report.processed}
        for load_id, (category, n) in superseded.items():
            if load_id in by_load:
                by_load[load_id].rows_superseded += n
            else:  # a load of an interrupted earlier run, finished now
                report.categories.setdefault(category, CategoryStats()).rows_superseded += n
        for res in report.processed:
            st = report.categories.setdefault(res.category or "", CategoryStats())
            st.files += 1
            st.rows_read += res.rows_read
            st.rows_loaded += res.rows_loaded
            st.rows_rejected += res.rows_rejected
            st.rows_duplicate += res.rows_duplicate
            st.rows_superseded += res.rows_superseded
        return report
    finally:
        if own:
            con.close()
