"""Load delivered files into DuckDB: ``raw.<category>`` and ``audit.*``.

One transaction per file (raw insert, supersession, ``audit.row_outcomes``,
``audit.rejected_rows``, ``audit.loads``): a crash mid-file leaves nothing of it, and the
next run loads it. Original bytes are archived to ``archive/<sha256[:2]>/<sha256>``
(content-addressed, written before the transaction; an orphan copy is harmless).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from ..catalogue import Catalogue, Category
from ..catalogue.model import SUBJECT_CODE_FIELDS
from ..catalogue.schemas import SchemaContext
from ..settings import Paths, duckdb_memory_limit
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


def _ensure_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, cols: list[tuple[str, str]]) -> None:
    body = ", ".join(f"{_q(n)} {t}" for n, t in cols)
    con.execute(f"CREATE TABLE IF NOT EXISTS {schema}.{_q(table)} ({body})")
    have = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()
    }
    for n, t in cols:  # a field added to the catalogue is a new nullable column
        if n not in have:
            con.execute(f"ALTER TABLE {schema}.{_q(table)} ADD COLUMN {_q(n)} {t}")


def ensure_tables(con: duckdb.DuckDBPyConnection, catalogue: Catalogue) -> None:
    """Create schemas ``raw`` and ``audit`` and their tables from the catalogue."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute("CREATE SCHEMA IF NOT EXISTS audit")
    for name, cols in AUDIT_TABLES.items():
        _ensure_table(con, "audit", name, cols)
    for cat in catalogue.categories.values():
        _ensure_table(con, "raw", cat.id, raw_columns(cat))


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
    rows_superseded: int = 0  # rows (of any file) superseded by this file
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


def _process(run: _Run, f: InboxFile) -> FileResult:
    data = f.path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    cat = f.category
    res = FileResult(
        source_file=f.source_file,
        department_code=f.department_code,
        category=cat.id if cat and not (f.problem and f.problem.rule == "unknown_category") else None,
        batch=f.batch,
        batch_date=f.batch_date,
        sha256=sha,
        status="skipped",
        load_id=_load_id(f.source_file, sha),
    )
    seen = run.recorded.get(f.source_file, set())
    if sha in seen:
        return res  # already recorded: idempotent re-run
    archive = archive_bytes(run.paths, data, sha)
    if seen:
        return _file_level(
            run, f, res,
            FileProblem("changed_file", "同一路径的文件内容已变更（与已入库的文件不同），请以新批次重新报送"),
            archive=archive,
        )
    if f.problem is not None:
        return _file_level(run, f, res, f.problem, archive=archive)
    assert cat is not None and f.batch_date is not None
    try:
        read = read_bytes(data, f.file_format, run.sample_bytes)
    except UnreadableFile as e:
        return _file_level(run, f, res, FileProblem(e.rule, e.reason), archive=archive)
    if sha in run.loaded_sha:
        return _file_level(
            run, f, res,
            FileProblem("duplicate_file", f"与已入库的文件 {run.loaded_sha[sha]} 内容完全相同"),
            read=read, archive=archive, outcome="duplicate",
        )
    mapping = map_headers(read.frame.columns, cat)
    res.extra_columns = list(mapping.extra)
    if mapping.missing_required:
        return _file_level(
            run, f, res, FileProblem("missing_column", mapping.missing_reason),
            read=read, archive=archive, outcome="rejected",
        )
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
    table = f"raw.{_q(cat.id)}"

    con = run.con
    with _file_transaction(con, res):
        con.register("_load", load_df.to_arrow())
        try:
            con.execute(
                f"INSERT INTO {table} ({target_cols}) SELECT {', '.join(select)} "
                f"FROM (SELECT {', '.join(inner)} FROM _load)"
            )
        finally:
            con.unregister("_load")
        if _after_raw_insert is not None:
            _after_raw_insert(f)
        _insert_outcomes(run, f, res, status)
        if rej_df is not None:
            _insert_rejected(run, f, res, rej_df)
        res.status = "loaded"
        _insert_loads(run, f, res, read.encoding, archive)
        res.rows_superseded = _supersede(con, table, res.load_id) if res.rows_loaded else 0
    return res


def _supersede(con: duckdb.DuckDBPyConnection, table: str, load_id: str) -> int:
    """Set-based supersession for the record keys touched by ``load_id``: the greatest
    (batch_date, batch, source_file, source_row) is current; the others point to it.

    Only keys held by more than one row are ranked, over the few columns needed; the
    updates are restricted to the files of the changed rows (a literal ``IN`` list the
    scans prune on), not joined against every row of the table and of
    ``audit.row_outcomes``."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _sup AS
        WITH keys AS (SELECT DISTINCT record_key FROM {table} WHERE load_id = {_lit(load_id)}),
        multi AS (
            SELECT record_key FROM {table} WHERE record_key IN (SELECT record_key FROM keys)
            GROUP BY record_key HAVING count(*) > 1
        ),
        ranked AS (
            SELECT record_id, source_file, is_current, superseded_by,
                   first_value(record_id) OVER (
                       PARTITION BY record_key
                       ORDER BY batch_date DESC, batch DESC, source_file DESC, source_row DESC
                   ) AS top
            FROM {table} WHERE record_key IN (SELECT record_key FROM multi)
        )
        SELECT record_id, source_file, record_id = top AS cur, is_current AS was_current,
               CASE WHEN record_id = top THEN NULL ELSE top END AS sup_by
        FROM ranked
        WHERE is_current IS DISTINCT FROM (record_id = top)
           OR superseded_by IS DISTINCT FROM (CASE WHEN record_id = top THEN NULL ELSE top END)"""
    )
    try:
        n_changed, n_rows = con.execute(
            "SELECT count(*) FILTER (WHERE NOT cur AND was_current), count(*) FROM _sup"
        ).fetchone()
        if n_rows:
            # record_id is derived from (source_file, source_row): a row's outcome and its
            # raw row carry the same source_file.
            files = ", ".join(_lit(r[0]) for r in con.execute("SELECT DISTINCT source_file FROM _sup").fetchall())
            con.execute(
                f"""UPDATE {table} SET is_current = s.cur, superseded_by = s.sup_by
                FROM _sup s WHERE {table}.source_file IN ({files}) AND {table}.record_id = s.record_id"""
            )
            con.execute(
                f"""UPDATE audit.row_outcomes
                SET outcome = CASE WHEN s.cur THEN 'loaded' ELSE 'superseded' END
                FROM _sup s WHERE audit.row_outcomes.source_file IN ({files})
                  AND audit.row_outcomes.record_id = s.record_id"""
            )
    finally:
        con.execute("DROP TABLE IF EXISTS _sup")
    return int(n_changed)


# ---------------------------------------------------------------- entry point


def ingest_inbox(
    paths: Paths,
    catalogue: Catalogue,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    key: bytes | None = None,
) -> IngestReport:
    """Ingest every file of ``paths.inbox`` not yet recorded, in delivery order."""
    own = con is None
    if own:
        paths.warehouse_dir.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(paths.warehouse), config={"memory_limit": duckdb_memory_limit()})
    try:
        if key is None:
            from ..codes.privacy import pseudonym_key

            key = pseudonym_key(paths.data_dir)
        ensure_tables(con, catalogue)
        recorded: dict[str, set[str]] = {}
        loaded_sha: dict[str, str] = {}
        for sf, sha, status in con.execute(
            "SELECT source_file, sha256, status FROM audit.loads ORDER BY loaded_at, source_file"
        ).fetchall():
            recorded.setdefault(sf, set()).add(sha)
            if status == "loaded":
                loaded_sha.setdefault(sha, sf)
        try:
            sample = int(catalogue.setting("ingest.encoding.sample_bytes"))
        except (KeyError, TypeError, ValueError):
            sample = DEFAULT_SAMPLE_BYTES
        run = _Run(
            paths=paths,
            catalogue=catalogue,
            con=con,
            key=key,
            loaded_at=dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0),
            recorded=recorded,
            loaded_sha=loaded_sha,
            sample_bytes=sample,
        )
        report = IngestReport()
        for f in discover(paths.inbox, catalogue):
            res = _process(run, f)
            report.files.append(res)
            if res.status == "skipped":
                continue
            run.recorded.setdefault(f.source_file, set()).add(res.sha256)
            if res.status == "loaded":
                run.loaded_sha.setdefault(res.sha256, f.source_file)
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
