"""Resolution of subject references against the register (codes.md "What code
governance must do"), as joins and set operations — never a lookup per row.

Reads ``raw.registration`` and every ``raw.<category>`` with subject fields, and
publishes in one transaction ``codes.subjects``, ``codes.register``,
``codes.subject_refs``, ``audit.code_resolutions`` and ``audit.code_conflicts``
(docs/architecture.md, warehouse-contract.md), with what the next run needs:
``codes.ref_details`` (every reference that is not ``valid``, whole: no full ID number,
its hash and mask), ``codes.register_entries`` (the register as prepared),
``codes.resolution_state`` (one row per run that publishes: a generation) and
``codes.subject_changes`` (the change log for dbt).

Per record, the first rule that applies wins:

1. the USCC is valid (after normalisation): ``valid`` (method ``exact`` or
   ``normalise``) when in the register, else ``unknown_subject``;
2. look-alike letters replaced (O→0, I→1 …) make it valid: ``lookalike``;
3. a legacy code — a 组织机构代码 / 工商注册号 in the USCC column or in its own
   column — found in the register: ``register_org_code`` / ``register_reg_no``;
   two or more register entries: ``ambiguous``;
4. an invalid or missing USCC and a normalised name matching exactly one register
   entry: ``name_excel_tail`` (18 digits ending 000), ``name_typo`` (one character
   from the register's code) or ``name_match``; two or more entries: ``ambiguous``;
5. otherwise ``unresolved``.

Natural persons (自然人) are keyed by the keyed hash of their ID number
(``P`` + 16 hex); their ID never leaves raw in full (audit rows show it masked).

The register's rows are prepared and indexed first; then the references are read a
category at a time and classified ``BATCH_ROWS`` at a time, each batch's outcome written
to temp tables before the next is read, so memory follows the batch, not the warehouse.
A valid USCC decides nearly every reference: the legacy-code validators and the lookups
run only on the others.

Incremental resolution. A reference's outcome is a function of its raw record, the
register's index and the rules. Raw records never change (ingestion only appends rows
and flips ``is_current`` / ``superseded_by``), so when the rules are those of the
previous run (:func:`rules_fingerprint`: codes.yaml, the catalogue's subject fields,
RULES_VERSION, the key) and no code of the previous register entries disappeared, a
``valid`` reference stays valid (its code is still in the register, the rest of its
row comes from its record) and a ``person`` never reads the register: both are kept.
Only the current records without a reference and — when the register changed
(:func:`register_fingerprint`) — the references of any other status are classified again
(with the same register and rules their outcome would be the same), found by a full
outer join in DuckDB of each category's current
record ids with codes.subject_refs, which also finds the references whose record is
superseded or gone. Rows that differ from the published ones (EXCEPT against
codes.ref_details) are deleted and inserted in codes.subject_refs, codes.ref_details and
audit.code_resolutions; the codes.subjects / codes.register rows of the subjects they
touch or whose register entries changed are recomputed (each row depends on its own
subject id's entries and references only); audit.code_conflicts is recomputed when the
register changed (:func:`register_fingerprint`; unchanged, the register is not even
prepared again: its entries are read from codes.register_entries). The result is the
tables a full resolution gives, row for row (tests/codes/test_codes_incremental.py);
any other case is a full resolution, marked ``all_changed``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl
import yaml

from ..catalogue.model import Catalogue, Category
from ..settings import catalog_dir
from ..textnorm import normalize_name_expr
from .expr import (
    id_no_is_valid_expr,
    lookalike_fix_expr,
    normalize_code_expr,
    org_code_is_valid_expr,
    reg_no_is_valid_expr,
    uscc_is_valid_expr,
    uscc_status_expr,
)
from .privacy import check_pseudonym_key, keyed_hash, keyed_hash_sql, mask_id_expr
from .validators import STATUS_LABELS

REGISTER = "registration"
CODE_FIELDS = ("uscc", "reg_no", "org_code", "id_no")
SUBJECT_ID_HEX = 16
PERSON_PREFIX = "P"
NAME_PREFIX = "N"
CANDIDATE_SEP = "、"
# Bump when the rules or what they write change: the next run is then a full resolution.
RULES_VERSION = 2  # 2: codes.subject_refs.source_file
# Generations of codes.subject_changes kept (older ones are deleted by each run).
KEEP_GENERATIONS = 50

# Problems (audit.code_resolutions.problem, Chinese: shown to departments).
PROBLEM_NOT_IN_REGISTER = "代码有效但登记名录中无此主体"
PROBLEM_LOOKALIKE = "代码含易混字符（字母 O、I 等）"
PROBLEM_LEGACY = {"org_code": "填报的是组织机构代码，应填统一社会信用代码",
                  "reg_no": "填报的是工商注册号，应填统一社会信用代码"}
PROBLEM_EXCEL = "代码被 Excel 按数字处理，末三位变为 000"
PROBLEM_MISSING = "统一社会信用代码缺失"
PROBLEM_PERSON_ID = "身份证号缺失或无效"
PROBLEM_LEGACY_ONLY = "未填统一社会信用代码，{label}在登记名录中{found}"

FEEDBACK_HEADERS = {
    "original_value": "原始代码",
    "suggested": "建议代码",
    "problem": "问题类型",
    "method_label": "处理方法",
    "confidence": "置信度",
    "source_file": "来源文件",
    "source_row": "行号",
    "field_label": "字段",
}

# References classified at a time; the rules' working set is a few dozen columns per
# reference. At 1M subjects (3M references) this keeps the stage under 4 GB; smaller
# batches save little memory and add a fixed cost per batch.
BATCH_ROWS = 500_000

# A category's current references as read from raw.
REF_SCHEMA = {
    "record_id": pl.String, "category": pl.String, "department_code": pl.String,
    "source_file": pl.String, "source_row": pl.Int64, "subject_name": pl.String,
    "subject_kind": pl.String, **{f: pl.String for f in CODE_FIELDS}, "id_no_hash": pl.String,
}
# A classified reference (written to the temp tables of _create_refs_tables).
REF_COLUMNS = {
    "record_id": pl.String, "category": pl.String, "department_code": pl.String,
    "source_file": pl.String, "source_row": pl.Int64, "subject_name": pl.String,
    "name_norm": pl.String, "subject_kind": pl.String, "resolved_uscc": pl.String,
    "status": pl.String, "method": pl.String, "confidence": pl.Float64, "field": pl.String,
    "field_label": pl.String, "original_value": pl.String, "problem": pl.String,
    "candidates": pl.String, "method_label": pl.String, "id_no_hash": pl.String,
    "id_no_masked": pl.String,
}

RESOLUTION_COLUMNS = [
    "source_file", "source_row", "field", "original_value", "resolved_uscc", "method",
    "confidence", "status", "record_id", "category", "department_code", "field_label",
    "problem", "candidates",
]


# ---------------------------------------------------------------- configuration


def codes_settings(catalogue: Catalogue) -> dict[str, Any]:
    """``catalogs/codes.yaml`` (via the catalogue's settings, else the default folder)."""
    cfg = catalogue.settings.get("codes")
    if not cfg:
        path = catalog_dir() / "codes.yaml"
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    return cfg


# ---------------------------------------------------------------- reading raw


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ?",
        [table],
    ).fetchall()
    return {r[0] for r in rows}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _col(have: set[str], name: str, alias: str | None = None, typ: str = "VARCHAR") -> str:
    alias = alias or name
    if name in have:
        return f"CAST({_q(name)} AS {typ}) AS {_q(alias)}"
    return f"CAST(NULL AS {typ}) AS {_q(alias)}"


def _ref_categories(con: duckdb.DuckDBPyConnection, catalogue: Catalogue) -> list[tuple[Category, set[str]]]:
    """The categories with subject fields whose raw table exists, by id, with its columns."""
    out = []
    for cat in sorted(catalogue.categories.values(), key=lambda c: c.id):
        if not cat.has_subject or not cat.subject_ref_fields:
            continue
        have = _columns(con, cat.id)
        if have and "record_id" in have:
            out.append((cat, have))
    return out


def _refs_sql(catalogue: Catalogue, cat: Category, have: set[str], key: bytes,
              where: list[str] | None = None) -> str:
    """The SELECT of the current rows of one category with subject fields (REF_SCHEMA's
    columns) from ``raw.<category> AS r``, with the extra conditions ``where``."""
    if cat.id == REGISTER:
        org_kind = catalogue.subject_kinds["organisation"]
        kind_list = ", ".join("'" + k + "'" for k in sorted(catalogue.subject_kinds.values()))
        name = _col(have, "name", "subject_name")
        ent = "CAST(entity_type AS VARCHAR)" if "entity_type" in have else "NULL"
        kind = f"CASE WHEN {ent} IN ({kind_list}) THEN {ent} ELSE '{org_kind}' END AS subject_kind"
    else:
        name = _col(have, "subject_name")
        kind = _col(have, "subject_kind")
    fields = [_col(have, f) if f in cat.by_name else f"CAST(NULL AS VARCHAR) AS {f}" for f in CODE_FIELDS]
    if "id_no_hash" in have:
        id_hash = "CAST(id_no_hash AS VARCHAR) AS id_no_hash"
    elif "id_no" in have:
        id_hash = f"{keyed_hash_sql('id_no', key)} AS id_no_hash"
    else:
        id_hash = "CAST(NULL AS VARCHAR) AS id_no_hash"
    conditions = ([_current(have)] if "is_current" in have else []) + list(where or [])
    current = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    return (
        f"SELECT CAST(record_id AS VARCHAR) AS record_id, '{cat.id}' AS category, "
        f"{_col(have, 'department_code')}, {_col(have, 'source_file')}, "
        f"{_col(have, 'source_row', typ='BIGINT')}, {name}, {kind}, "
        f"{', '.join(fields)}, {id_hash} "
        f"FROM raw.{_q(cat.id)} AS r {current}"
    )


def _current(have: set[str], alias: str = "r") -> str:
    """The condition that a row of a raw table is current (every row when the table has no
    ``is_current``)."""
    return f"{alias}.is_current" if "is_current" in have else "TRUE"


def _read_refs(con: duckdb.DuckDBPyConnection, catalogue: Catalogue, cat: Category, have: set[str],
               key: bytes, rowids: tuple[int, int] | None = None, where: list[str] | None = None) -> pl.DataFrame:
    """Current rows of one category with subject fields (those of the table's row ids
    ``rowids`` = [first, end) when given, in no particular order)."""
    conditions = list(where or [])
    if rowids is not None:
        conditions.append(f"rowid >= {int(rowids[0])} AND rowid < {int(rowids[1])}")
    return con.sql(_refs_sql(catalogue, cat, have, key, conditions)).pl().cast(REF_SCHEMA)


def _read_ref_slices(con: duckdb.DuckDBPyConnection, catalogue: Catalogue, cat: Category, have: set[str],
                     key: bytes, rows: int) -> Iterator[pl.DataFrame]:
    """:func:`_read_refs` of a whole category, ``rows`` row ids at a time (DuckDB prunes a
    row-id range to its row groups): a category of millions of references is never one
    frame."""
    end = con.execute(f"SELECT coalesce(max(rowid) + 1, 0) FROM raw.{_q(cat.id)}").fetchall()[0][0]
    for first in range(0, end, rows):
        frame = _read_refs(con, catalogue, cat, have, key, (first, min(first + rows, end)))
        if frame.height:
            yield frame


def _field_labels(categories: list[Category]) -> pl.DataFrame:
    """(category, field) → the field's label in that category (audit ``field_label``)."""
    rows = [(cat.id, f, cat.by_name[f].label if f in cat.by_name else f)
            for cat in categories for f in CODE_FIELDS]
    return pl.DataFrame(rows, schema={"category": pl.String, "field": pl.String, "field_label": pl.String},
                        orient="row")


REGISTRATION_COLUMNS = {
    "record_id": "VARCHAR", "uscc": "VARCHAR", "name": "VARCHAR", "entity_type": "VARCHAR",
    "reg_no": "VARCHAR", "legal_rep": "VARCHAR", "legal_rep_id_no_masked": "VARCHAR",
    "established_on": "DATE", "registered_capital": "DOUBLE", "region_code": "VARCHAR",
    "industry_code": "VARCHAR", "status": "VARCHAR", "batch_date": "DATE", "batch": "VARCHAR",
    "source_file": "VARCHAR", "source_row": "BIGINT",
}


def _registration_sql(con: duckdb.DuckDBPyConnection) -> str:
    """Every registration row (current or not) with the attributes codes.subjects needs."""
    have = _columns(con, REGISTER)
    select = ", ".join(_col(have, c, typ=t) for c, t in REGISTRATION_COLUMNS.items())
    return f"SELECT {select} FROM raw.{REGISTER}" if have else f"SELECT {select} WHERE FALSE"


def _all_registrations(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every registration row (current or not): its code (the USCC if valid, else its
    look-alike repair if valid), name and normalised name — for 重码 detection."""
    have = _columns(con, REGISTER)
    if have:
        regs = con.sql(f"SELECT {_col(have, 'uscc')}, {_col(have, 'name')} FROM raw.{REGISTER}").pl()
    else:
        regs = pl.DataFrame(schema={"uscc": pl.String, "name": pl.String})
    return regs.lazy().with_columns(
        name_norm=normalize_name_expr(pl.col("name")),
        u=normalize_code_expr(pl.col("uscc")),
    ).with_columns(
        code=pl.when(uscc_is_valid_expr(pl.col("u")).fill_null(False)).then(pl.col("u"))
        .when(uscc_is_valid_expr(lookalike_fix_expr(pl.col("u"))).fill_null(False))
        .then(lookalike_fix_expr(pl.col("u"))),
    ).select("code", "name", "name_norm").collect()


# ---------------------------------------------------------------- frame helpers

_ROW = "_row"


def _join_left(df: pl.DataFrame, other: pl.DataFrame, on: str | list[str]) -> pl.DataFrame:
    """``df.join(other, on=on, how="left")`` for an ``other`` with unique keys: df's rows in
    df's order, df's columns kept as they are (only the keys go through the join)."""
    keys = [on] if isinstance(on, str) else on
    found = df.select(keys).join(other, on=keys, how="left", maintain_order="left")
    return df.hstack(found.drop(keys).get_columns())


def _lookup(df: pl.DataFrame, index: pl.DataFrame, on: str) -> pl.DataFrame:
    """:func:`_join_left` against a large index (unique keys). Polars hashes a join's right
    side: for fewer rows than the index, the index is first cut to their keys (a semi join,
    which hashes the rows' keys), so the index itself is not hashed for each batch."""
    if df.height < index.height:
        index = index.join(df.select(on), on=on, how="semi")
    return _join_left(df, index, on)


def _on_rows(df: pl.DataFrame, mask: pl.Expr, compute: Callable[[pl.DataFrame], pl.DataFrame]) -> pl.DataFrame:
    """``df`` plus the new columns of ``compute`` (which keeps its input's rows, in order),
    computed on the rows where ``mask`` holds only, null on the others. A validator costs
    as much on a null as on a value: this is for columns that only a few rows need."""
    rows = df.with_row_index(_ROW)
    subset = rows.filter(mask)
    part = compute(subset.drop(_ROW))
    added = part.select(c for c in part.columns if c not in df.columns).insert_column(0, subset[_ROW])
    return _join_left(rows, added, _ROW).drop(_ROW)


# ---------------------------------------------------------------- the rules


def _prepare(refs: pl.DataFrame, person_kind: str) -> pl.DataFrame:
    """What every reference needs: the masked ID number, the normalised name and USCC
    (``u``), the USCC's status, its look-alike repair and ``code`` — the valid USCC as
    written or repaired (null if neither)."""
    n = normalize_code_expr
    # Lazy with collect(): polars shares the common sub-expressions (the normalised code
    # occurs in several places of every validator); eager with_columns recomputes each.
    return refs.lazy().with_columns(
        id_no_masked=mask_id_expr(pl.col("id_no")),
        name_norm=normalize_name_expr(pl.col("subject_name")),
        u=pl.when(n(pl.col("uscc")) == "").then(None).otherwise(n(pl.col("uscc"))),
        is_person=(pl.col("subject_kind") == person_kind).fill_null(False),
    ).with_columns(
        u_status=uscc_status_expr(pl.col("u")),
        u_valid=uscc_is_valid_expr(pl.col("u")).fill_null(False),
        look=lookalike_fix_expr(pl.col("u")),
    ).with_columns(
        # validated only where it can matter (null elsewhere: cheap), same truth value
        look_valid=(~pl.col("u_valid") & (pl.col("look") != pl.col("u"))
                    & uscc_is_valid_expr(
                        pl.when(~pl.col("u_valid") & (pl.col("look") != pl.col("u"))).then(pl.col("look"))
                    ).fill_null(False)),
    ).with_columns(
        code=pl.when(pl.col("u_valid")).then(pl.col("u"))
        .when(pl.col("look_valid")).then(pl.col("look")),
    ).collect()


def _nonempty_code(e: pl.Expr) -> pl.Expr:
    n = normalize_code_expr(e)
    return pl.when(n == "").then(None).otherwise(n)


def _register_entries(registration: pl.DataFrame) -> pl.DataFrame:
    """The register: current registration records (prepared) whose code is (or becomes)
    valid, with their valid 工商注册号 (``r_norm``)."""
    entries = registration.filter(pl.col("code").is_not_null()).select(
        "record_id", "code", "subject_name", "name_norm", "subject_kind", "reg_no")
    r = pl.col("r")
    entries = _on_rows(entries, pl.col("reg_no").is_not_null(), lambda f: f.lazy().with_columns(
        r=_nonempty_code(pl.col("reg_no"))).select(
        r_norm=pl.when(reg_no_is_valid_expr(r).fill_null(False)).then(r)).collect())
    return entries.drop("reg_no")


def _count_index(frame: pl.DataFrame, key: str, prefix: str) -> pl.DataFrame:
    """key → number of distinct register USCCs, the USCC when unique, the candidates."""
    pairs = frame.lazy().filter(pl.col(key).is_not_null()).select(key, "code").unique()
    counts = pairs.group_by(key).agg(
        pl.len().alias(f"{prefix}_n"),
        pl.col("code").min().alias(f"{prefix}_uscc"),
    )
    # Candidate lists are only joined for keys with several codes (few), not per key.
    multi = (
        pairs.join(counts.filter(pl.col(f"{prefix}_n") > 1).select(key), on=key, how="semi")
        .sort(key, "code")
        .group_by(key, maintain_order=True)
        .agg(pl.col("code").str.join(CANDIDATE_SEP).alias("_cand"))
    )
    return (
        counts.join(multi, on=key, how="left")
        .with_columns(pl.coalesce("_cand", f"{prefix}_uscc").alias(f"{prefix}_candidates"))
        .drop("_cand")
        .collect()
    )


@dataclass(frozen=True)
class _Index:
    """The register's lookups: its codes, and by normalised name, by 组织机构代码 (the
    USCC's characters 9–17) and by 工商注册号 → count, unique USCC, candidates."""

    by_code: pl.DataFrame
    by_name: pl.DataFrame
    by_org: pl.DataFrame
    by_reg: pl.DataFrame

    @classmethod
    def of(cls, entries: pl.DataFrame) -> _Index:
        return cls(
            by_code=entries.select("code").unique().with_columns(in_reg=pl.lit(True)),
            by_name=_count_index(entries, "name_norm", "name"),
            by_org=_count_index(entries.with_columns(okey=pl.col("code").str.slice(8, 9)), "okey", "org"),
            by_reg=_count_index(entries.rename({"r_norm": "rkey"}), "rkey", "reg"),
        )


def _hamming(a: pl.Expr, b: pl.Expr, length: int = 18) -> pl.Expr:
    diffs = [(a.str.slice(i, 1) != b.str.slice(i, 1)).cast(pl.Int32) for i in range(length)]
    return pl.sum_horizontal(diffs)


# Legacy lookups in order: USCC column (org code / reg no), then reg_no, then org_code:
# (field, kind of code, its validity column, its normalised value).
LEGACY = [
    ("uscc", "org_code", "u_org", "u"),
    ("uscc", "reg_no", "u_reg", "u"),
    ("reg_no", "reg_no", "r_valid", "r"),
    ("org_code", "org_code", "o_valid", "o"),
]
# What _lookups gives the rules, and its value for the references that skip it.
LOOKUP_DEFAULTS = {
    "id_valid": False, "u_org": False, "u_reg": False, "lk_n": 0, "lk_uscc": None, "lk_field": None,
    "lk_kind": None, "lk_cand": None, "name_n": 0, "name_uscc": None, "name_candidates": None,
    "excel": False, "typo": False,
}


def _lookups(refs: pl.DataFrame, index: _Index, cfg: dict[str, Any]) -> pl.DataFrame:
    """For the references a valid USCC does not decide (persons, invalid or missing USCCs):
    the ID number's and the legacy codes' validity, the first legacy lookup that finds the
    register, the lookup by name, and the Excel-tail and one-typo tests against it."""
    c = pl.col
    df = refs.lazy().with_columns(
        o=_nonempty_code(c("org_code")),
        r=_nonempty_code(c("reg_no")),
    ).with_columns(
        u_org=org_code_is_valid_expr(c("u")).fill_null(False),
        u_reg=reg_no_is_valid_expr(c("u")).fill_null(False),
        o_valid=org_code_is_valid_expr(c("o")).fill_null(False),
        r_valid=reg_no_is_valid_expr(c("r")).fill_null(False),
        id_valid=id_no_is_valid_expr(c("id_no")).fill_null(False),
    ).collect()
    for i, (_, kind, valid, value) in enumerate(LEGACY):
        idx, src, pre = (index.by_org, "okey", "org") if kind == "org_code" else (index.by_reg, "rkey", "reg")
        df = _lookup(
            df.with_columns(pl.when(c(valid)).then(c(value)).alias(f"lk{i}")),
            idx.rename({src: f"lk{i}", f"{pre}_n": f"lk{i}_n", f"{pre}_uscc": f"lk{i}_uscc",
                        f"{pre}_candidates": f"lk{i}_cand"}),
            f"lk{i}",
        )
    df = _lookup(df, index.by_name, "name_norm")
    df = df.with_columns(pl.col("name_n").fill_null(0), *[pl.col(f"lk{i}_n").fill_null(0) for i in range(len(LEGACY))])

    # First legacy lookup that found something.
    lk_n = pl.lit(0, dtype=pl.UInt32)
    lk_uscc = pl.lit(None, dtype=pl.String)
    lk_field = pl.lit(None, dtype=pl.String)
    lk_kind = pl.lit(None, dtype=pl.String)
    lk_cand = pl.lit(None, dtype=pl.String)
    for i in reversed(range(len(LEGACY))):
        field, kind, _, _ = LEGACY[i]
        hit = pl.col(f"lk{i}_n") > 0
        lk_n = pl.when(hit).then(pl.col(f"lk{i}_n").cast(pl.UInt32)).otherwise(lk_n)
        lk_uscc = pl.when(hit).then(pl.col(f"lk{i}_uscc")).otherwise(lk_uscc)
        lk_field = pl.when(hit).then(pl.lit(field)).otherwise(lk_field)
        lk_kind = pl.when(hit).then(pl.lit(kind)).otherwise(lk_kind)
        lk_cand = pl.when(hit).then(pl.col(f"lk{i}_cand")).otherwise(lk_cand)
    typo = (c("u").str.len_chars() == 18) & (_hamming(c("u"), c("name_uscc")) == 1)
    return df.with_columns(
        lk_n=lk_n, lk_uscc=lk_uscc, lk_field=lk_field, lk_kind=lk_kind, lk_cand=lk_cand,
        excel=c("u").str.contains(cfg["excel_tail_pattern"]).fill_null(False),
        typo=typo.fill_null(False),
    ).select(list(LOOKUP_DEFAULTS))


def _classify(refs: pl.DataFrame, index: _Index, labels: pl.DataFrame, cfg: dict[str, Any]) -> pl.DataFrame:
    """Apply the rules to prepared references (:func:`_prepare`); returns REF_COLUMNS."""
    c = pl.col
    df = _join_left(refs, index.by_code, "code").with_columns(c("in_reg").fill_null(False))
    # A valid USCC decides an organisation's outcome (rules 3–5, whatever the lookups would
    # find): only persons and invalid or missing USCCs (a few in a hundred) need them.
    df = _on_rows(df, c("is_person") | ~c("u_valid"), lambda rows: _lookups(rows, index, cfg))
    # (The defaults of the others are never read: a rule before the lookups' applies.)
    df = df.with_columns(c(k).fill_null(v) for k, v in LOOKUP_DEFAULTS.items() if v is not None)

    u_invalid = c("u").is_not_null() & ~c("u_valid")
    # (condition, status, method, resolved, field, problem, candidates)
    rules: list[tuple[pl.Expr, str, str | None, pl.Expr | None, pl.Expr, pl.Expr | None, pl.Expr | None]] = [
        (c("is_person") & c("id_valid"), "person", "id_hash", None, pl.lit("id_no"), None, None),
        (c("is_person"), "unresolved", None, None, pl.lit("id_no"), pl.lit(PROBLEM_PERSON_ID), None),
        (c("u_valid") & c("in_reg") & (c("uscc") == c("u")), "valid", "exact", c("u"), pl.lit("uscc"), None, None),
        (c("u_valid") & c("in_reg"), "valid", "normalise", c("u"), pl.lit("uscc"), None, None),
        (c("u_valid"), "unknown_subject", None, c("u"), pl.lit("uscc"), pl.lit(PROBLEM_NOT_IN_REGISTER), None),
        (c("look_valid"), "repaired", "lookalike", c("look"), pl.lit("uscc"), pl.lit(PROBLEM_LOOKALIKE), None),
        (c("lk_n") == 1, "repaired", None, c("lk_uscc"), c("lk_field"), None, None),
        (c("lk_n") > 1, "ambiguous", None, None, c("lk_field"), None, c("lk_cand")),
        (u_invalid & (c("name_n") == 1) & c("excel"), "repaired", "name_excel_tail", c("name_uscc"),
         pl.lit("uscc"), pl.lit(PROBLEM_EXCEL), None),
        (u_invalid & (c("name_n") == 1) & c("typo"), "repaired", "name_typo", c("name_uscc"),
         pl.lit("uscc"), None, None),
        (c("name_n") == 1, "repaired", "name_match", c("name_uscc"), pl.lit("uscc"), None, None),
        (c("name_n") > 1, "ambiguous", None, None, pl.lit("uscc"), None, c("name_candidates")),
    ]
    status: pl.Expr = pl.lit("unresolved")
    method: pl.Expr = pl.lit(None, dtype=pl.String)
    resolved: pl.Expr = pl.lit(None, dtype=pl.String)
    field: pl.Expr = pl.lit("uscc")
    problem: pl.Expr = pl.lit(None, dtype=pl.String)
    cands: pl.Expr = pl.lit(None, dtype=pl.String)
    legacy_method = pl.concat_str([pl.lit("register_"), c("lk_kind")])
    for cond, st, me, res, fl, pr, ca in reversed(rules):
        status = pl.when(cond).then(pl.lit(st)).otherwise(status)
        m = pl.lit(me) if me else (legacy_method if st == "repaired" else pl.lit(None, dtype=pl.String))
        method = pl.when(cond).then(m).otherwise(method)
        resolved = pl.when(cond).then(res if res is not None else pl.lit(None, dtype=pl.String)).otherwise(resolved)
        field = pl.when(cond).then(fl).otherwise(field)
        problem = pl.when(cond).then(pr if pr is not None else pl.lit(None, dtype=pl.String)).otherwise(problem)
        cands = pl.when(cond).then(ca if ca is not None else pl.lit(None, dtype=pl.String)).otherwise(cands)
    df = df.lazy().with_columns(status=status, method=method, resolved_uscc=resolved, field=field,
                                problem=problem, candidates=cands).collect()
    df = _join_left(df, labels, ["category", "field"])

    # Problem text where the rule did not fix one: from the code's own defect. (A rule that
    # sets field id_no sets the problem too, so a field other than uscc here is a legacy one.)
    code_problem = (
        pl.when(c("field") != "uscc").then(
            pl.format(PROBLEM_LEGACY_ONLY.replace("{label}", "{}").replace("{found}", "{}"),
                      c("field_label"),
                      pl.when(c("status") == "ambiguous").then(pl.lit("对应多个主体")).otherwise(pl.lit("有唯一对应"))))
        .when(c("u").is_null()).then(pl.lit(PROBLEM_MISSING))
        .when(c("u_org")).then(pl.lit(PROBLEM_LEGACY["org_code"]))
        .when(c("u_reg")).then(pl.lit(PROBLEM_LEGACY["reg_no"]))
        .otherwise(pl.concat_str([pl.lit("统一社会信用代码"),
                                  c("u_status").replace_strict(STATUS_LABELS, default=c("u_status"))]))
    )
    method_labels = {k: v["label"] for k, v in cfg["methods"].items()}
    conf = {k: float(v["confidence"]) for k, v in cfg["methods"].items()}
    return df.lazy().with_columns(
        problem=pl.when(c("status").is_in(["valid", "person"])).then(None)
        .otherwise(pl.coalesce(c("problem"), code_problem)),
        confidence=c("method").replace_strict(conf, default=None, return_dtype=pl.Float64),
        method_label=c("method").replace_strict(method_labels, default=None, return_dtype=pl.String),
        original_value=pl.when(c("field") == "uscc").then(c("uscc"))
        .when(c("field") == "reg_no").then(c("reg_no"))
        .when(c("field") == "org_code").then(c("org_code"))
        .otherwise(mask_id_expr(c("id_no"))),
    ).select(list(REF_COLUMNS)).collect()  # no full ID number beyond this point


def _prepared_frames(con: duckdb.DuckDBPyConnection, catalogue: Catalogue, key: bytes,
                     categories: list[tuple[Category, set[str]]], prepared: dict[str, pl.DataFrame],
                     batch_rows: int, todo: bool = False) -> Iterator[tuple[pl.DataFrame, bool]]:
    """The references to classify as (frame, prepared already) pairs, category by category:
    every current reference (each category read ``batch_rows`` row ids at a time), or with
    ``todo`` only the rows of ``_codes_todo`` (:func:`_find_changes`). ``prepared`` holds
    categories prepared already (the register's); each is dropped from it when reached."""
    for cat, have in categories:
        frame = prepared.pop(cat.id, None)
        if frame is not None:
            yield frame, True
            del frame
            continue
        if todo:
            frames = _read_todo_slices(con, catalogue, cat, have, key, batch_rows)
        else:
            frames = _read_ref_slices(con, catalogue, cat, have, key, batch_rows)
        for frame in frames:
            yield frame, False
            del frame


def _batches(frames: Iterator[tuple[pl.DataFrame, bool]], person_kind: str, batch_rows: int) -> Iterator[pl.DataFrame]:
    """The references of ``frames`` (:func:`_prepared_frames`), prepared, ``batch_rows`` at
    a time (the order of the references does not matter: every output table is sorted on
    a unique key, or compared as a set)."""
    pending: list[pl.DataFrame] = []
    room = batch_rows
    for frame, done in frames:
        start = 0
        while start < frame.height:
            piece = frame.slice(start, room)
            start += piece.height
            room -= piece.height
            pending.append(piece if done else _prepare(piece, person_kind))
            if room == 0:
                yield pl.concat(pending)
                pending, room = [], batch_rows
        del frame
    if pending:
        yield pl.concat(pending)


# ---------------------------------------------------------------- writing


def _register_frame(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    con.register(name, frame.to_arrow())


SQL_TYPES = {pl.String: "VARCHAR", pl.Int64: "BIGINT", pl.Float64: "DOUBLE"}
SUBJECT_ID_SQL = f"""
    CASE
        WHEN resolved_uscc IS NOT NULL THEN resolved_uscc
        WHEN status IN ('person', 'unresolved') AND field = 'id_no' AND id_no_hash IS NOT NULL
            THEN '{PERSON_PREFIX}' || substr(id_no_hash, 1, {SUBJECT_ID_HEX})
        WHEN name_norm IS NOT NULL THEN '{NAME_PREFIX}' || substr(sha256(name_norm), 1, {SUBJECT_ID_HEX})
    END"""


# codes.subject_refs: one row per current record naming a subject (source_file: the file of the
# record, which the quality step counts the references by).
SUBJECT_REF_COLUMNS = ["record_id", "category", "department_code", "subject_id", "resolved_uscc",
                       "status", "method", "confidence", "source_file"]
# codes.ref_details: a classified reference whole (no full ID number: its hash and mask).
DETAIL_TYPES = {**{name: SQL_TYPES[dtype] for name, dtype in REF_COLUMNS.items()}, "subject_id": "VARCHAR"}
DETAIL_COLUMNS = list(DETAIL_TYPES)
LOGGED = ("repaired", "ambiguous", "unresolved", "unknown_subject")  # statuses in audit.code_resolutions
# Statuses an incremental run keeps as they are: a valid USCC stays in a register whose codes
# only grew; a person is classified without the register.
KEPT = ("valid", "person")
# The references codes.ref_details holds: every one but the valid ones — whose subject is a
# register entry, which codes.subjects takes from the register (the second condition only
# matters for register rows without a record id, which raw never has).
DETAIL_FILTER = ("(status <> 'valid' OR subject_id NOT IN "
                 "(SELECT code FROM _codes_entries WHERE record_id IS NOT NULL))")


def _create_refs_tables(con: duckdb.DuckDBPyConnection, incremental: bool = False) -> None:
    """The temp tables of the classification: for a full resolution ``_codes_subject_refs``
    (every reference, the columns of codes.subject_refs) and ``_codes_refs`` (DETAIL_COLUMNS
    of the references codes.ref_details holds); for an incremental one ``_codes_new``
    (DETAIL_COLUMNS of every reference classified), see :func:`_insert_refs`.

    Declared column by column, not created from an empty frame: with DuckDB 2.0, a table
    created by ``CREATE TABLE … AS`` from zero rows, then filled in the same transaction by
    an INSERT of a row group or more (122 880 rows), answers filters, joins and ORDER BY as
    if it were still empty (tests/codes/test_codes_resolve.py checks the declared tables)."""
    wide = ", ".join(f"{name} {typ}" for name, typ in DETAIL_TYPES.items())
    if incremental:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _codes_new ({wide})")
        return
    narrow = ", ".join(f"{name} {DETAIL_TYPES[name]}" for name in SUBJECT_REF_COLUMNS)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _codes_subject_refs ({narrow})")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _codes_refs ({wide})")


def _insert_refs(con: duckdb.DuckDBPyConnection, refs: pl.DataFrame, incremental: bool = False) -> None:
    """Append classified references (REF_COLUMNS) with their subject id: incrementally,
    every one to ``_codes_new``; else every one to ``_codes_subject_refs`` and to
    ``_codes_refs`` those of DETAIL_FILTER. Valid references, nearly all, name a register
    entry and stay out of the wide table."""
    _register_frame(con, "_codes_refs_in", refs)
    try:
        with_id = f"(SELECT *, {SUBJECT_ID_SQL} AS subject_id FROM _codes_refs_in)"
        if incremental:
            con.execute(f"INSERT INTO _codes_new BY NAME SELECT {', '.join(DETAIL_COLUMNS)} FROM {with_id}")
            return
        con.execute(f"INSERT INTO _codes_subject_refs BY NAME SELECT {', '.join(SUBJECT_REF_COLUMNS)} "
                    f"FROM {with_id}")
        con.execute(f"INSERT INTO _codes_refs BY NAME SELECT {', '.join(DETAIL_COLUMNS)} FROM {with_id} "
                    f"WHERE {DETAIL_FILTER}")
    finally:
        con.unregister("_codes_refs_in")


def _prepare_register(con: duckdb.DuckDBPyConnection, catalogue: Catalogue, key: bytes,
                      categories: list[tuple[Category, set[str]]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The current registration rows, prepared (:func:`_prepare`), and the register entries
    made of them (:func:`_register_entries`)."""
    person_kind = catalogue.subject_kinds["person"]
    reg = next(((cat, have) for cat, have in categories if cat.id == REGISTER), None)
    registration = (_read_refs(con, catalogue, *reg, key) if reg is not None
                    else pl.DataFrame(schema=REF_SCHEMA))
    prepared = _prepare(registration, person_kind)
    del registration
    return prepared, _register_entries(prepared)


def _entries_since(con: duckdb.DuckDBPyConnection, catalogue: Catalogue, key: bytes,
                   categories: list[tuple[Category, set[str]]]) -> pl.DataFrame:
    """The register entries of an incremental run whose register changed, from the previous
    run's (codes.register_entries) instead of every registration row: an entry is a
    function of its own registration row alone (:func:`_prepare`, :func:`_register_entries`,
    under the same rules and key — which an incremental run has), and raw rows never change
    but for ``is_current``. So the entries are the previous ones whose record is still
    current plus those of the current rows not seen before — prepared alone, about 1 % of
    the register in a 1 % batch. Leaves ``_codes_entries_out`` (previous entries no longer
    current) and ``_codes_entries_in`` (the new ones) for :func:`_diff_changes`, which the
    full comparison would find: the previous entries have unique record ids
    (:func:`_register_shrank` forbids others), and no new row shares one with them. Like
    :func:`_find_changes`, the new rows are checked for missing and repeated record ids
    (by :func:`_register_shrank`, on the entries), not the unchanged ones."""
    cols = ", ".join(ENTRY_COLUMNS)
    reg = next(((cat, have) for cat, have in categories if cat.id == REGISTER), None)
    if reg is None:
        current_ids = "SELECT CAST(NULL AS VARCHAR) AS record_id WHERE FALSE"
        new = pl.DataFrame(schema=REF_SCHEMA)
    else:
        cat, have = reg
        current_ids = (f"SELECT CAST(record_id AS VARCHAR) AS record_id FROM raw.{_q(cat.id)} AS r "
                       f"WHERE {_current(have)} AND record_id IS NOT NULL")
        new = _read_refs(con, catalogue, cat, have, key, where=[
            "(record_id IS NULL OR CAST(record_id AS VARCHAR) NOT IN "
            "(SELECT record_id FROM codes.register_entries WHERE record_id IS NOT NULL))"])
    added = _register_entries(_prepare(new, catalogue.subject_kinds["person"])).select(ENTRY_COLUMNS)
    del new
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _codes_entries_out AS
        SELECT {cols} FROM codes.register_entries
        WHERE record_id NOT IN ({current_ids})""")
    _register_frame(con, "_codes_entries_added", added)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _codes_entries_in AS SELECT {cols} FROM _codes_entries_added")
    finally:
        con.unregister("_codes_entries_added")
    kept = con.sql(f"""SELECT {cols} FROM codes.register_entries AS p
                       WHERE NOT EXISTS (SELECT 1 FROM _codes_entries_out AS o WHERE o.record_id = p.record_id)"""
                   ).pl().cast(dict.fromkeys(ENTRY_COLUMNS, pl.String))
    return pl.concat([kept, added.cast(dict.fromkeys(ENTRY_COLUMNS, pl.String))])


def _classify_refs(con: duckdb.DuckDBPyConnection, catalogue: Catalogue, key: bytes, cfg: dict[str, Any],
                   categories: list[tuple[Category, set[str]]], index: _Index,
                   prepared: dict[str, pl.DataFrame], batch_rows: int, incremental: bool = False) -> None:
    """Classify the references — every current one, or incrementally those of
    ``_codes_todo`` — into the temp tables of :func:`_create_refs_tables`, ``batch_rows``
    at a time, each batch written before the next is read."""
    person_kind = catalogue.subject_kinds["person"]
    labels = _field_labels([cat for cat, _ in categories])
    _create_refs_tables(con, incremental)
    frames = _prepared_frames(con, catalogue, key, categories, prepared, batch_rows, todo=incremental)
    for batch in _batches(frames, person_kind, batch_rows):
        _insert_refs(con, _classify(batch, index, labels, cfg), incremental)


# ---------------------------------------------------------------- incremental resolution


def _read_todo_slices(con: duckdb.DuckDBPyConnection, catalogue: Catalogue, cat: Category, have: set[str],
                      key: bytes, rows: int) -> Iterator[pl.DataFrame]:
    """The rows of one category listed in ``_codes_todo``, at most ``rows`` at a time: each
    slice is a range of the table's row ids (pruned to its row groups) filtered to the
    listed ones, so neither the category nor the list is read whole into a frame."""
    ranges = con.execute(
        """SELECT min(rid), max(rid) FROM (
               SELECT rid, (row_number() OVER (ORDER BY rid) - 1) // ? AS chunk
               FROM _codes_todo WHERE category = ?)
           GROUP BY chunk ORDER BY 1""", [int(rows), cat.id]).fetchall()
    for lo, hi in ranges:
        listed = (f"rowid IN (SELECT rid FROM _codes_todo WHERE category = '{cat.id}' "
                  f"AND rid BETWEEN {int(lo)} AND {int(hi)})")
        frame = _read_refs(con, catalogue, cat, have, key, (lo, hi + 1), [listed])
        if frame.height:
            yield frame


def _find_changes(con: duckdb.DuckDBPyConnection, categories: list[tuple[Category, set[str]]],
                  retry: bool = True) -> bool:
    """Set operations in DuckDB against the published codes.subject_refs, into temp tables:
    ``_codes_todo`` (category, row id, record id) — the current records to classify: those
    without a reference yet and, with ``retry``, those whose status is not one of KEPT (the
    caller retries them only when the register changed: a reference's outcome is a
    function of its own row, the register's entries and the rules, so with the same
    register and rules it would come out as it is); ``_codes_gone``
    (category, record id, subject id) — the references whose record is no longer current
    (superseded) or gone, or whose category is no longer read. One full outer join of a
    category's current record ids with its references finds both. False when a record to
    classify has no record id or shares it with another (raw never has such records; the
    caller then resolves in full)."""
    kept = ", ".join(f"'{s}'" for s in KEPT)
    con.execute("CREATE OR REPLACE TEMP TABLE _codes_todo (category VARCHAR, rid BIGINT, record_id VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE _codes_gone (category VARCHAR, record_id VARCHAR, subject_id VARCHAR)")
    read = ", ".join(f"'{cat.id}'" for cat, _ in categories) or "NULL"
    con.execute(f"""INSERT INTO _codes_gone SELECT category, record_id, subject_id FROM codes.subject_refs
                    WHERE category NOT IN ({read}) OR category IS NULL""")
    for cat, have in categories:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _codes_delta AS
            SELECT r.rid, r.record_id AS raw_id, s.record_id AS ref_id, s.subject_id, s.found
            FROM (SELECT rowid AS rid, CAST(record_id AS VARCHAR) AS record_id
                  FROM raw.{_q(cat.id)} AS r WHERE {_current(have)}) AS r
            FULL OUTER JOIN (SELECT record_id, subject_id, status, TRUE AS found FROM codes.subject_refs
                             WHERE category = '{cat.id}') AS s
              ON s.record_id = r.record_id
            WHERE r.rid IS NULL OR s.found IS NULL{f" OR s.status NOT IN ({kept})" if retry else ""}""")
        con.execute(f"""INSERT INTO _codes_todo SELECT '{cat.id}', rid, raw_id FROM _codes_delta
                        WHERE rid IS NOT NULL""")
        con.execute(f"""INSERT INTO _codes_gone SELECT '{cat.id}', ref_id, subject_id FROM _codes_delta
                        WHERE rid IS NULL""")
    con.execute("DROP TABLE IF EXISTS _codes_delta")
    nulls, dups = con.execute("""SELECT count(*) FILTER (WHERE record_id IS NULL),
                                        count(record_id) - count(DISTINCT (category, record_id))
                                 FROM _codes_todo""").fetchall()[0]
    return not nulls and not dups


NARROW_DIFFERS = ("({a}.department_code, {a}.subject_id, {a}.resolved_uscc, {a}.status, {a}.method, {a}.confidence) "
                  "IS DISTINCT FROM ({b}.department_code, {b}.subject_id, {b}.resolved_uscc, {b}.status, "
                  "{b}.method, {b}.confidence)")


def _diff_changes(con: duckdb.DuckDBPyConnection, register_changed: bool) -> None:
    """From the classified references (``_codes_new``), before the transaction:

    - ``_codes_changed`` — those whose row (DETAIL_COLUMNS) is not already published in
      codes.ref_details: new references, and re-classified ones whose outcome changed in
      any column (a re-classified reference was not valid nor a person, so its previous
      row is in codes.ref_details);
    - ``_codes_out`` — the keys to delete from the published tables (gone or changed);
    - ``_codes_ref_log`` — the subject ids to log for the references: the old and the new
      of every reference added, removed, or whose codes.subject_refs row changes;
    - ``_codes_affected`` — the subjects whose codes.subjects row may change: the old and
      new subject ids of every reference gone or changed (codes.ref_details changes only
      there), and with ``register_changed`` the codes whose register entries changed
      (the register part of a subject is made of its code's entries only);
    - ``_codes_entries_out`` / ``_codes_entries_in`` — the register entries to delete from /
      add to codes.register_entries: as :func:`_entries_since` left them when
      ``register_changed``, else empty.
    """
    cols = ", ".join(DETAIL_COLUMNS)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _codes_changed AS
        SELECT {cols} FROM _codes_new
        EXCEPT
        SELECT {cols} FROM codes.ref_details AS d
        WHERE EXISTS (SELECT 1 FROM _codes_new AS n WHERE n.category = d.category AND n.record_id = d.record_id)""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _codes_out AS
        SELECT category, record_id FROM _codes_gone
        UNION
        SELECT category, record_id FROM _codes_changed""")
    # The published rows of the changed references: their row ids found from the two key
    # columns first, then only those rows read whole (a join reading every column of the
    # 10M references costs about twice as much; dbt's delta_rows does the same).
    published = """(SELECT * FROM codes.subject_refs WHERE rowid IN (
        SELECT s.rowid FROM codes.subject_refs AS s
        WHERE EXISTS (SELECT 1 FROM _codes_changed AS c WHERE c.category = s.category AND c.record_id = s.record_id)))"""
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _codes_pairs AS
        SELECT c.subject_id AS new_id, s.subject_id AS old_id, s.record_id IS NOT NULL AS existed,
               {NARROW_DIFFERS.format(a='c', b='s')} AS differs
        FROM _codes_changed AS c
        LEFT JOIN {published} AS s ON s.category = c.category AND s.record_id = c.record_id""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _codes_ref_log AS
        SELECT subject_id FROM _codes_gone
        UNION SELECT new_id FROM _codes_pairs WHERE NOT existed OR differs
        UNION SELECT old_id FROM _codes_pairs WHERE existed AND differs""")
    if not register_changed:
        ec = ", ".join(ENTRY_COLUMNS)
        for t in ("_codes_entries_out", "_codes_entries_in"):
            con.execute(f"CREATE OR REPLACE TEMP TABLE {t} AS SELECT {ec} FROM codes.register_entries WHERE FALSE")
    con.execute("""CREATE OR REPLACE TEMP TABLE _codes_affected AS
        SELECT subject_id FROM _codes_gone
        UNION SELECT new_id FROM _codes_pairs
        UNION SELECT old_id FROM _codes_pairs
        UNION SELECT code FROM _codes_entries_out
        UNION SELECT code FROM _codes_entries_in""")
    con.execute("DROP TABLE _codes_pairs")


# ---------------------------------------------------------------- state


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _sha(value: Any) -> str:
    return hashlib.sha256(_json(value).encode("utf-8")).hexdigest()


# The fields of a category the classification reads (the register's name and entity type).
SUBJECT_FIELDS = ("subject_name", "subject_kind", "name", "entity_type", *CODE_FIELDS)
# The raw columns it reads: a change of their presence or type in a raw table read before
# means a full resolution.
READ_COLUMNS = ("record_id", "department_code", "source_file", "source_row", "is_current", "id_no_hash",
                *SUBJECT_FIELDS)


def rules_fingerprint(catalogue: Catalogue, cfg: dict[str, Any], key: bytes) -> str:
    """What the outcome of a reference depends on besides the raw record and the register:
    ``catalogs/codes.yaml`` (as read), the subject fields of every category with subject
    references (labels included), the subject kinds, RULES_VERSION and the pseudonym key
    (as a keyed hash of a constant)."""
    cats = [
        {"id": cat.id, "subject_ref_fields": [f.name for f in cat.subject_ref_fields],
         "fields": [cat.by_name[n].model_dump(mode="json") for n in SUBJECT_FIELDS if n in cat.by_name]}
        for cat in sorted(catalogue.categories.values(), key=lambda c: c.id)
        if cat.has_subject and cat.subject_ref_fields
    ]
    return _sha({"version": RULES_VERSION, "codes": cfg, "subject_kinds": catalogue.subject_kinds,
                 "categories": cats, "key": keyed_hash("credit-codes-resolution", key)})


def _raw_columns(con: duckdb.DuckDBPyConnection, categories: list[tuple[Category, set[str]]]) -> dict[str, str]:
    """Per category read, a fingerprint of the columns the stage reads that its raw table
    has, with their types."""
    wanted = set(READ_COLUMNS) | set(REGISTRATION_COLUMNS)
    rows = con.execute("""SELECT table_name, column_name, data_type FROM information_schema.columns
                          WHERE table_schema = 'raw'""").fetchall()
    read = {cat.id for cat, _ in categories}
    out: dict[str, list[str]] = {}
    for table, column, typ in rows:
        if table in read and column in wanted:
            out.setdefault(table, []).append(f"{column} {typ}")
    return {t: _sha(sorted(cols))[:16] for t, cols in sorted(out.items())}


def register_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """Every raw.registration row (current or not) as far as the stage reads it: the
    register entries, codes.subjects' register attributes and 重码 detection depend on
    nothing else. Order-independent (a sum of row hashes), computed in DuckDB."""
    have = _columns(con, REGISTER)
    cols = sorted(c for c in set(READ_COLUMNS) | set(REGISTRATION_COLUMNS) if c in have)
    if not have or not cols:
        return "none"
    n, total = con.execute(
        f"SELECT count(*), CAST(coalesce(sum(CAST(hash({', '.join(_q(c) for c in cols)}) AS HUGEINT)), 0) "
        f"AS VARCHAR) FROM raw.{REGISTER}").fetchall()[0]
    return _sha([n, total, cols])[:32]


STATE_COLUMNS = {
    "generation": "BIGINT", "mode": "VARCHAR", "reason": "VARCHAR", "rules_fingerprint": "VARCHAR",
    "register_fingerprint": "VARCHAR", "raw_columns": "VARCHAR", "all_changed": "BOOLEAN",
    "refs": "BIGINT", "ref_details": "BIGINT", "refs_classified": "BIGINT", "refs_changed": "BIGINT",
    "refs_removed": "BIGINT", "subjects": "BIGINT", "subjects_changed": "BIGINT",
    "resolved_at": "TIMESTAMP",
}
# The tables an incremental run starts from.
STATE_TABLES = ("codes.resolution_state", "codes.subject_changes", "codes.subject_refs", "codes.ref_details",
                "codes.register_entries", "codes.subjects", "codes.register", "audit.code_resolutions",
                "audit.code_conflicts")


def _tables_present(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {f"{s}.{t}" for s, t in con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT temporary AND database_name = current_database()"
    ).fetchall()}


def last_resolution(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The latest row of codes.resolution_state (None before the first run)."""
    if "codes.resolution_state" not in _tables_present(con):
        return None
    cur = con.execute("SELECT * FROM codes.resolution_state ORDER BY generation DESC LIMIT 1")
    rows = cur.fetchall()
    return dict(zip([d[0] for d in cur.description], rows[0], strict=True)) if rows else None


@dataclass
class _Plan:
    """What a run does: ``reason`` is None for an incremental run, else why it is full
    (Chinese, kept in codes.resolution_state)."""

    generation: int
    rules: str
    register: str
    raw_columns: dict[str, str]
    previous: dict[str, Any] | None
    reason: str | None = None
    register_changed: bool = True  # the register entries are prepared from raw, not loaded


def _plan(con: duckdb.DuckDBPyConnection, catalogue: Catalogue, cfg: dict[str, Any], key: bytes,
          categories: list[tuple[Category, set[str]]], full: bool) -> _Plan:
    """Incremental when the previous state exists with the same rules fingerprint, every
    table it left is there as it left it (row counts), and no raw table read before
    changed its columns; the register's codes are checked after (:func:`_register_shrank`)."""
    present = _tables_present(con)
    prev = last_resolution(con)
    plan = _Plan(generation=(prev["generation"] + 1) if prev else 1, rules=rules_fingerprint(catalogue, cfg, key),
                 register=register_fingerprint(con), raw_columns=_raw_columns(con, categories), previous=prev)
    if full:
        plan.reason = "按要求全量解析"
    elif prev is None:
        plan.reason = "无先前解析状态"
    elif any(t not in present for t in STATE_TABLES):
        plan.reason = "先前的代码治理表不完整"
    elif prev["rules_fingerprint"] != plan.rules:
        plan.reason = "解析规则（codes.yaml、目录主体字段或程序版本）已变更"
    elif any(json.loads(prev["raw_columns"]).get(t, cols) != cols for t, cols in plan.raw_columns.items()):
        plan.reason = "原始表的相关列已变更"
    elif con.execute("SELECT (SELECT count(*) FROM codes.subject_refs), (SELECT count(*) FROM codes.ref_details)"
                     ).fetchall()[0] != (prev["refs"], prev["ref_details"]):
        plan.reason = "已发布的代码治理表与解析状态不一致"
    else:
        plan.register_changed = prev["register_fingerprint"] != plan.register
    return plan


def _register_shrank(con: duckdb.DuckDBPyConnection) -> str | None:
    """Why the register forbids an incremental run (None if it does not): a code of the
    previous register entries (codes.register_entries) is not a code of the current ones
    (``_codes_entries``), or an entry has no record id or shares it with another (raw
    never has such records)."""
    gone, no_id, dup = con.execute("""SELECT
        (SELECT count(*) FROM codes.register_entries p WHERE NOT EXISTS (
             SELECT 1 FROM _codes_entries e WHERE e.code = p.code)),
        (SELECT count(*) FROM codes.register_entries WHERE record_id IS NULL)
        + (SELECT count(*) FROM _codes_entries WHERE record_id IS NULL),
        (SELECT count(*) - count(DISTINCT record_id) FROM _codes_entries)""").fetchall()[0]
    if gone:
        return f"登记名录中有 {gone} 个代码消失"
    if no_id or dup:
        return "登记记录的记录编号缺失或重复"
    return None


ENTRY_COLUMNS = ["record_id", "code", "subject_name", "name_norm", "subject_kind", "r_norm"]


def _create_state_tables(con: duckdb.DuckDBPyConnection) -> None:
    cols = ", ".join(f"{n} {t}" for n, t in STATE_COLUMNS.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS codes.resolution_state ({cols})")
    con.execute("CREATE TABLE IF NOT EXISTS codes.subject_changes (generation BIGINT, subject_id VARCHAR)")


def _finish_state(con: duckdb.DuckDBPyConnection, plan: _Plan, counts: dict[str, int]) -> None:
    """Prune the change log to the last KEEP_GENERATIONS generations and add this run's
    state row (inside the publishing transaction)."""
    gen = plan.generation
    con.execute("DELETE FROM codes.subject_changes WHERE generation <= ?", [gen - KEEP_GENERATIONS])
    refs, details, subjects = con.execute(
        "SELECT (SELECT count(*) FROM codes.subject_refs), (SELECT count(*) FROM codes.ref_details), "
        "(SELECT count(*) FROM codes.subjects)").fetchall()[0]
    logged = con.execute("SELECT count(*) FROM codes.subject_changes WHERE generation = ?", [gen]).fetchall()[0][0]
    row = {
        "generation": gen, "mode": "full" if plan.reason else "incremental", "reason": plan.reason,
        "rules_fingerprint": plan.rules, "register_fingerprint": plan.register,
        "raw_columns": _json(plan.raw_columns), "all_changed": plan.reason is not None,
        "refs": refs, "ref_details": details, "refs_classified": counts.get("classified", refs),
        "refs_changed": counts.get("changed", refs), "refs_removed": counts.get("removed", 0),
        "subjects": subjects, "subjects_changed": logged,
    }
    names = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    con.execute(f"INSERT INTO codes.resolution_state ({names}, resolved_at) VALUES ({marks}, now()::TIMESTAMP)",
                list(row.values()))


# ---------------------------------------------------------------- publishing


# codes.subjects: every subject ({codes} and {subjects} TRUE), or those of _codes_affected.
SUBJECTS_SQL = """
WITH reg AS (  -- the latest current registration row of each valid code
    SELECT e.code AS subject_id, e.code AS uscc, r.name, e.name_norm, e.subject_kind,
           r.entity_type, r.region_code, r.industry_code, r.status, r.established_on,
           r.registered_capital, r.legal_rep, r.legal_rep_id_no_masked AS legal_rep_id_masked,
           e.r_norm AS reg_no, substr(e.code, 9, 9) AS org_code, TRUE AS in_register,
           row_number() OVER (PARTITION BY e.code ORDER BY r.batch_date DESC NULLS LAST,
               r.batch DESC NULLS LAST, r.source_file DESC, r.source_row DESC, r.record_id) AS rk
    FROM _codes_entries e JOIN _codes_registration r ON r.record_id = e.record_id
    WHERE {codes}
),
refs AS (  -- subjects known from records only
    SELECT subject_id, resolved_uscc AS uscc, subject_name AS name, name_norm, subject_kind,
           id_no_masked,
           count(*) OVER (PARTITION BY subject_id, name_norm) AS n_same
    FROM codes.ref_details
    WHERE subject_id IS NOT NULL AND subject_id NOT IN (SELECT subject_id FROM reg) AND {subjects}
),
other AS (
    SELECT subject_id, uscc, name, name_norm, subject_kind,
           CAST(NULL AS VARCHAR) AS entity_type, CAST(NULL AS VARCHAR) AS region_code,
           CAST(NULL AS VARCHAR) AS industry_code, CAST(NULL AS VARCHAR) AS status,
           CAST(NULL AS DATE) AS established_on, CAST(NULL AS DOUBLE) AS registered_capital,
           CAST(NULL AS VARCHAR) AS legal_rep, id_no_masked AS legal_rep_id_masked,
           CAST(NULL AS VARCHAR) AS reg_no, substr(uscc, 9, 9) AS org_code, FALSE AS in_register,
           row_number() OVER (PARTITION BY subject_id ORDER BY n_same DESC, name_norm, name,
               subject_kind, id_no_masked) AS rk
    FROM refs
)
SELECT subject_id, uscc, name, name_norm, subject_kind, entity_type, region_code, industry_code,
       status, established_on, registered_capital, legal_rep, legal_rep_id_masked, reg_no,
       org_code, in_register
FROM (SELECT * EXCLUDE (rk) FROM reg WHERE rk = 1
      UNION ALL
      SELECT * EXCLUDE (rk) FROM other WHERE rk = 1)
ORDER BY subject_id
"""

CONFLICTS_SQL = """
WITH regs AS (
    SELECT code AS uscc, name, name_norm FROM _codes_all_registrations WHERE code IS NOT NULL
),
-- the groups with a conflict first, then their lists: a sorted list for each of the
-- million codes and names costs ten times the grouping (1.3 s against 0.13 s at 1M)
dup AS (
    SELECT uscc, list(DISTINCT name_norm ORDER BY name_norm) AS names
    FROM regs
    WHERE uscc IN (SELECT uscc FROM regs GROUP BY uscc HAVING count(DISTINCT name_norm) > 1)
    GROUP BY uscc
),
cur AS (
    SELECT code AS uscc, subject_name AS name, name_norm FROM _codes_entries
),
multi AS (
    SELECT name_norm, list(DISTINCT uscc ORDER BY uscc) AS codes
    FROM cur
    WHERE name_norm IN (SELECT name_norm FROM cur WHERE name_norm IS NOT NULL
                        GROUP BY name_norm HAVING count(DISTINCT uscc) > 1)
    GROUP BY name_norm
)
SELECT DISTINCT 'duplicate_code' AS kind, r.uscc, r.name,
       '重码：代码 ' || r.uscc || ' 登记于 ' || CAST(len(d.names) AS VARCHAR) || ' 个不同名称：'
       || array_to_string(d.names, '、') AS detail
FROM regs r JOIN dup d USING (uscc)
UNION ALL
SELECT DISTINCT 'multiple_codes' AS kind, c.uscc, c.name,
       '多码：名称 ' || c.name_norm || ' 对应 ' || CAST(len(m.codes) AS VARCHAR) || ' 个有效代码：'
       || array_to_string(m.codes, '、') AS detail
FROM cur c JOIN multi m USING (name_norm)
ORDER BY kind, uscc, name
"""

def _subjects_sql(affected: bool = False) -> str:
    """SUBJECTS_SQL for every subject, or for the subject ids of ``_codes_affected`` only
    (each row of codes.subjects depends on its own subject id's entries and references
    only: the filters restrict whole partitions)."""
    if not affected:
        return SUBJECTS_SQL.format(codes="TRUE", subjects="TRUE")
    return SUBJECTS_SQL.format(codes="e.code IN (SELECT subject_id FROM _codes_affected)",
                               subjects="subject_id IN (SELECT subject_id FROM _codes_affected)")


TEMP_TABLES = ("_codes_refs", "_codes_subject_refs", "_codes_new", "_codes_todo", "_codes_gone",
               "_codes_changed", "_codes_out", "_codes_pairs", "_codes_ref_log", "_codes_affected",
               "_codes_subjects_next", "_codes_delta", "_codes_entries_out", "_codes_entries_in")
REGISTERED = ("_codes_entries", "_codes_all_registrations")


def _drop_temp(con: duckdb.DuckDBPyConnection) -> None:
    for t in TEMP_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {t}")
    con.execute("DROP VIEW IF EXISTS _codes_registration")


def _publish_register(con: duckdb.DuckDBPyConnection) -> None:
    """audit.code_conflicts and codes.register_entries: functions of the registration rows
    only."""
    con.execute(f"CREATE OR REPLACE TABLE audit.code_conflicts AS {CONFLICTS_SQL}")
    con.execute(f"""CREATE OR REPLACE TABLE codes.register_entries AS
        SELECT {', '.join(ENTRY_COLUMNS)} FROM _codes_entries ORDER BY code, record_id""")


def _publish_full(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""CREATE OR REPLACE TABLE codes.ref_details AS
        SELECT * FROM _codes_refs ORDER BY category, record_id""")
    con.execute(f"CREATE OR REPLACE TABLE codes.subjects AS {_subjects_sql()}")
    con.execute("""CREATE OR REPLACE TABLE codes.register AS
        SELECT * FROM codes.subjects WHERE in_register ORDER BY subject_id""")
    con.execute(f"""CREATE OR REPLACE TABLE codes.subject_refs AS
        SELECT {', '.join(SUBJECT_REF_COLUMNS)}
        FROM _codes_subject_refs ORDER BY category, record_id""")
    con.execute(f"""CREATE OR REPLACE TABLE audit.code_resolutions AS
        SELECT {', '.join(RESOLUTION_COLUMNS)}
        FROM codes.ref_details
        WHERE status IN {LOGGED!r}
        ORDER BY source_file, source_row, category, record_id""")
    _publish_register(con)


def _publish_incremental(con: duckdb.DuckDBPyConnection, plan: _Plan) -> None:
    """Delete + insert of the references gone or changed, of the rows of codes.subjects and
    codes.register of the affected subjects and of the register entries that changed;
    audit.code_conflicts recomputed when the register changed; the change log."""
    for table in ("codes.subject_refs", "codes.ref_details", "audit.code_resolutions"):
        con.execute(f"""DELETE FROM {table} AS t USING _codes_out AS o
                        WHERE t.category = o.category AND t.record_id = o.record_id""")
    con.execute(f"""INSERT INTO codes.subject_refs SELECT {', '.join(SUBJECT_REF_COLUMNS)}
                    FROM _codes_changed ORDER BY category, record_id""")
    con.execute(f"""INSERT INTO codes.ref_details SELECT {', '.join(DETAIL_COLUMNS)}
                    FROM _codes_changed WHERE {DETAIL_FILTER} ORDER BY category, record_id""")
    con.execute(f"""INSERT INTO audit.code_resolutions SELECT {', '.join(RESOLUTION_COLUMNS)}
                    FROM _codes_changed WHERE status IN {LOGGED!r}
                    ORDER BY source_file, source_row, category, record_id""")
    # codes.ref_details is as full resolution leaves it: the affected subjects anew.
    con.execute(f"CREATE OR REPLACE TEMP TABLE _codes_subjects_next AS {_subjects_sql(affected=True)}")
    old = "(SELECT * FROM codes.subjects WHERE subject_id IN (SELECT subject_id FROM _codes_affected))"
    con.execute(f"""INSERT INTO codes.subject_changes
        SELECT {int(plan.generation)}, subject_id FROM (
            SELECT subject_id FROM _codes_ref_log
            UNION SELECT subject_id FROM (SELECT * FROM {old} EXCEPT SELECT * FROM _codes_subjects_next)
            UNION SELECT subject_id FROM (SELECT * FROM _codes_subjects_next EXCEPT SELECT * FROM {old}))""")
    for table, rows in (("codes.subjects", "TRUE"), ("codes.register", "in_register")):
        con.execute(f"DELETE FROM {table} WHERE subject_id IN (SELECT subject_id FROM _codes_affected)")
        con.execute(f"INSERT INTO {table} SELECT * FROM _codes_subjects_next WHERE {rows} ORDER BY subject_id")
    con.execute("DROP TABLE _codes_subjects_next")
    if plan.register_changed:
        con.execute("""DELETE FROM codes.register_entries
                       WHERE record_id IN (SELECT record_id FROM _codes_entries_out)""")
        con.execute(f"""INSERT INTO codes.register_entries SELECT {', '.join(ENTRY_COLUMNS)}
                        FROM _codes_entries_in ORDER BY code, record_id""")
        con.execute(f"CREATE OR REPLACE TABLE audit.code_conflicts AS {CONFLICTS_SQL}")


# ---------------------------------------------------------------- entry point


def resolve_subjects(con: duckdb.DuckDBPyConnection, catalogue: Catalogue, key: bytes,
                     batch_rows: int = BATCH_ROWS, full: bool = False) -> dict[str, Any]:
    """Resolve the current subject references and publish the codes tables in one
    transaction: incrementally when the previous run's state allows it (:func:`_plan`,
    :func:`_register_shrank`), else — or with ``full`` — in full. Both give the same
    tables. Each run that publishes adds a generation to codes.resolution_state; an
    incremental run that finds nothing to change publishes nothing. Returns summary
    counts. References are classified ``batch_rows`` at a time (:func:`_classify_refs`);
    the results are identical for any batch size."""
    cfg = codes_settings(catalogue)
    check_pseudonym_key(con, key)
    categories = _ref_categories(con, catalogue)
    plan = _plan(con, catalogue, cfg, key, categories, full)
    counts: dict[str, int] = {}
    try:
        # The classification fills this connection's temp tables (invisible to others,
        # gone with the connection) outside the transaction: rows inserted in a
        # transaction stay in its uncompressed local storage until commit, about 0.5 GB
        # per million references that DuckDB's memory limit does not cap. The published
        # tables are then replaced (in full) or updated (incrementally) in one transaction.
        prepared: dict[str, pl.DataFrame] = {}
        entries_since = plan.register_changed and plan.reason is None
        if entries_since:  # incremental: the previous entries and the registration rows new since
            entries = _entries_since(con, catalogue, key, categories)
        elif plan.register_changed:
            prepared[REGISTER], entries = _prepare_register(con, catalogue, key, categories)
        else:  # the registration rows are as the previous run prepared them
            entries = con.sql(f"SELECT {', '.join(ENTRY_COLUMNS)} FROM codes.register_entries").pl().cast(
                dict.fromkeys(ENTRY_COLUMNS, pl.String))
        _register_frame(con, "_codes_entries", entries)
        if plan.reason is None:
            plan.reason = _register_shrank(con)
        if plan.reason is None and not _find_changes(con, categories, retry=plan.register_changed):
            plan.reason = "待解析记录的记录编号缺失或重复"
        if plan.reason is not None and not plan.register_changed:
            plan.register_changed = True  # a full run publishes every table
        if plan.reason is not None and entries_since:
            # falling back to a full run: its entries from every registration row, as ever
            con.unregister("_codes_entries")
            prepared[REGISTER], entries = _prepare_register(con, catalogue, key, categories)
            _register_frame(con, "_codes_entries", entries)
        index = _Index.of(entries)
        del entries
        if plan.reason is None:
            prepared.clear()  # the register's rows to classify are read with the others
            _classify_refs(con, catalogue, key, cfg, categories, index, prepared, batch_rows, incremental=True)
            _diff_changes(con, plan.register_changed)  # entries_since == plan.register_changed here
            counts = dict(zip(("classified", "changed", "removed"), con.execute(
                "SELECT (SELECT count(*) FROM _codes_new), (SELECT count(*) FROM _codes_changed), "
                "(SELECT count(*) FROM _codes_gone)").fetchall()[0], strict=True))
        else:
            _classify_refs(con, catalogue, key, cfg, categories, index, prepared, batch_rows)
        del index, prepared
        unchanged = (plan.reason is None and not plan.register_changed
                     and not counts["changed"] and not counts["removed"])
        if plan.register_changed:
            _register_frame(con, "_codes_all_registrations", _all_registrations(con))
        con.execute(f"CREATE OR REPLACE TEMP VIEW _codes_registration AS {_registration_sql(con)}")
    except Exception:
        for v in REGISTERED:
            con.unregister(v)
        _drop_temp(con)
        raise
    if unchanged:
        # Nothing to publish: every table is as the latest generation left it, and stays
        # so — no new generation either (a run with nothing new changes no table).
        for v in REGISTERED:
            con.unregister(v)
        _drop_temp(con)
        return _summary(con)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS codes")
        con.execute("CREATE SCHEMA IF NOT EXISTS audit")
        _create_state_tables(con)
        if plan.reason is None:
            _publish_incremental(con, plan)
        else:
            _publish_full(con)
        _finish_state(con, plan, counts)
        _drop_temp(con)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        _drop_temp(con)  # made before the transaction: the rollback kept them
        raise
    finally:
        for v in REGISTERED:
            con.unregister(v)
    return _summary(con)


def _summary(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    def counts(sql: str) -> dict[str, int]:
        return {str(k): int(v) for k, v in con.execute(sql).fetchall()}

    return {
        "references": con.execute("SELECT count(*) FROM codes.subject_refs").fetchall()[0][0],
        "by_status": counts("SELECT status, count(*) FROM codes.subject_refs GROUP BY 1 ORDER BY 1"),
        "by_method": counts("SELECT coalesce(method, '-'), count(*) FROM codes.subject_refs GROUP BY 1 ORDER BY 1"),
        "resolutions": con.execute("SELECT count(*) FROM audit.code_resolutions").fetchall()[0][0],
        "subjects": con.execute("SELECT count(*) FROM codes.subjects").fetchall()[0][0],
        "in_register": con.execute("SELECT count(*) FROM codes.subjects WHERE in_register").fetchall()[0][0],
        "conflicts": counts("SELECT kind, count(DISTINCT uscc) FROM audit.code_conflicts GROUP BY 1 ORDER BY 1"),
    }


def department_feedback(con: duckdb.DuckDBPyConnection, department_code: str) -> pl.DataFrame:
    """The department's own list of codes to correct at source (Chinese headers)."""
    empty = pl.DataFrame(schema={h: (pl.Float64 if k == "confidence" else pl.Int64 if k == "source_row"
                                     else pl.String) for k, h in FEEDBACK_HEADERS.items()})
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'audit' "
        "AND table_name = 'code_resolutions'"
    ).fetchall()[0][0]
    if not exists:
        return empty
    cfg_labels = _method_labels()
    df = con.sql(
        """SELECT original_value, coalesce(resolved_uscc, candidates) AS suggested, problem, method,
                  status, confidence, source_file, source_row, field_label
           FROM audit.code_resolutions WHERE department_code = ?
           ORDER BY source_file, source_row, field""",
        params=[department_code],
    ).pl()
    if df.height == 0:
        return empty
    status_labels = _status_labels()
    df = df.with_columns(
        method_label=pl.coalesce(
            pl.col("method").replace_strict(cfg_labels, default=None, return_dtype=pl.String),
            pl.col("status").replace_strict(status_labels, default=pl.col("status"), return_dtype=pl.String),
        ),
    )
    return df.select([pl.col(k).alias(h) for k, h in FEEDBACK_HEADERS.items()])


def _codes_yaml() -> dict[str, Any]:
    return yaml.safe_load((catalog_dir() / "codes.yaml").read_text(encoding="utf-8"))


def _method_labels() -> dict[str, str]:
    return {k: v["label"] for k, v in _codes_yaml()["methods"].items()}


def _status_labels() -> dict[str, str]:
    return dict(_codes_yaml()["status_labels"])
