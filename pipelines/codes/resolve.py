"""Resolution of subject references against the register (codes.md "What code
governance must do"), as joins and set operations — never a lookup per row.

Reads ``raw.registration`` and every ``raw.<category>`` with subject fields, and
(re)writes in one transaction ``codes.subjects``, ``codes.register``,
``codes.subject_refs``, ``audit.code_resolutions`` and ``audit.code_conflicts``
(docs/architecture.md, warehouse-contract.md).

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
"""

from __future__ import annotations

from typing import Any

import duckdb
import polars as pl
import yaml

from ..catalogue.model import Catalogue
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
from .privacy import keyed_hash_sql, mask_id_expr
from .validators import STATUS_LABELS

REGISTER = "registration"
CODE_FIELDS = ("uscc", "reg_no", "org_code", "id_no")
SUBJECT_ID_HEX = 16
PERSON_PREFIX = "P"
NAME_PREFIX = "N"
CANDIDATE_SEP = "、"

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


def _read_refs(con: duckdb.DuckDBPyConnection, catalogue: Catalogue, key: bytes) -> pl.DataFrame:
    """Current rows of every category with subject fields, in one long frame."""
    org_kind = catalogue.subject_kinds["organisation"]
    kinds = sorted(catalogue.subject_kinds.values())
    parts: list[str] = []
    for cat in sorted(catalogue.categories.values(), key=lambda c: c.id):
        if not cat.has_subject or not cat.subject_ref_fields:
            continue
        have = _columns(con, cat.id)
        if not have or "record_id" not in have:
            continue
        if cat.id == REGISTER:
            name = _col(have, "name", "subject_name")
            ent = "CAST(entity_type AS VARCHAR)" if "entity_type" in have else "NULL"
            kind_list = ", ".join("'" + k + "'" for k in kinds)
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
        labels = {f: (cat.by_name[f].label if f in cat.by_name else f) for f in CODE_FIELDS}
        label_cols = [f"'{labels[f]}' AS label_{f}" for f in CODE_FIELDS]
        current = "WHERE is_current" if "is_current" in have else ""
        parts.append(
            f"SELECT CAST(record_id AS VARCHAR) AS record_id, '{cat.id}' AS category, "
            f"{_col(have, 'department_code')}, {_col(have, 'source_file')}, "
            f"{_col(have, 'source_row', typ='BIGINT')}, {name}, {kind}, "
            f"{', '.join(fields)}, {id_hash}, {', '.join(label_cols)} "
            f"FROM raw.{_q(cat.id)} {current}"
        )
    schema = {
        "record_id": pl.String, "category": pl.String, "department_code": pl.String,
        "source_file": pl.String, "source_row": pl.Int64, "subject_name": pl.String,
        "subject_kind": pl.String, **{f: pl.String for f in CODE_FIELDS}, "id_no_hash": pl.String,
        **{f"label_{f}": pl.String for f in CODE_FIELDS},
    }
    if not parts:
        return pl.DataFrame(schema=schema)
    df = con.sql(" UNION ALL ".join(parts)).pl()
    return df.cast(schema).sort("category", "source_file", "source_row", "record_id")


def _read_register(con: duckdb.DuckDBPyConnection, catalogue: Catalogue) -> pl.DataFrame:
    """Every registration row (current or not) with the attributes codes.subjects needs."""
    have = _columns(con, REGISTER)
    cols = {
        "record_id": "VARCHAR", "uscc": "VARCHAR", "name": "VARCHAR", "entity_type": "VARCHAR",
        "reg_no": "VARCHAR", "legal_rep": "VARCHAR", "legal_rep_id_no_masked": "VARCHAR",
        "established_on": "DATE", "registered_capital": "DOUBLE", "region_code": "VARCHAR",
        "industry_code": "VARCHAR", "status": "VARCHAR", "batch_date": "DATE", "batch": "VARCHAR",
        "source_file": "VARCHAR", "source_row": "BIGINT", "is_current": "BOOLEAN",
    }
    if not have:
        sql_types = {"VARCHAR": pl.String, "DATE": pl.Date, "DOUBLE": pl.Float64, "BIGINT": pl.Int64,
                     "BOOLEAN": pl.Boolean}
        return pl.DataFrame(schema={c: sql_types[t] for c, t in cols.items()})
    select = ", ".join(_col(have, c, typ=t) for c, t in cols.items())
    df = con.sql(f"SELECT {select} FROM raw.{REGISTER}").pl()
    return df.with_columns(pl.col("is_current").fill_null(True))


# ---------------------------------------------------------------- the rules


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


def _hamming(a: pl.Expr, b: pl.Expr, length: int = 18) -> pl.Expr:
    diffs = [(a.str.slice(i, 1) != b.str.slice(i, 1)).cast(pl.Int32) for i in range(length)]
    return pl.sum_horizontal(diffs)


def _classify(refs: pl.DataFrame, cfg: dict[str, Any], person_kind: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Apply the rules; returns (refs with resolution columns, register entries)."""
    n = normalize_code_expr
    # Lazy with collect(): polars shares the common sub-expressions (the normalised code
    # occurs in ~30 places of every validator); eager with_columns recomputes each.
    df = refs.lazy().with_columns(
        name_norm=normalize_name_expr(pl.col("subject_name")),
        u=pl.when(n(pl.col("uscc")) == "").then(None).otherwise(n(pl.col("uscc"))),
        o=pl.when(n(pl.col("org_code")) == "").then(None).otherwise(n(pl.col("org_code"))),
        r=pl.when(n(pl.col("reg_no")) == "").then(None).otherwise(n(pl.col("reg_no"))),
        is_person=(pl.col("subject_kind") == person_kind).fill_null(False),
    ).with_columns(
        u_status=uscc_status_expr(pl.col("u")),
        u_valid=uscc_is_valid_expr(pl.col("u")).fill_null(False),
        look=lookalike_fix_expr(pl.col("u")),
        u_org=org_code_is_valid_expr(pl.col("u")).fill_null(False),
        u_reg=reg_no_is_valid_expr(pl.col("u")).fill_null(False),
        o_valid=org_code_is_valid_expr(pl.col("o")).fill_null(False),
        r_valid=reg_no_is_valid_expr(pl.col("r")).fill_null(False),
        id_valid=id_no_is_valid_expr(pl.col("id_no")).fill_null(False),
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

    # The register: current registration records whose code is (or becomes) valid.
    entries = df.filter((pl.col("category") == REGISTER) & pl.col("code").is_not_null())
    by_code = entries.select("code").unique().with_columns(in_reg=pl.lit(True))
    by_name = _count_index(entries, "name_norm", "name")
    by_org = _count_index(entries.with_columns(okey=pl.col("code").str.slice(8, 9)), "okey", "org")
    reg_nos = entries.with_columns(rkey=pl.when(pl.col("r_valid")).then(pl.col("r")))
    by_reg = _count_index(reg_nos, "rkey", "reg")

    # Legacy lookups in order: USCC column (org code / reg no), then reg_no, then org_code.
    legacy = [
        ("uscc", "org_code", pl.when(pl.col("u_org")).then(pl.col("u"))),
        ("uscc", "reg_no", pl.when(pl.col("u_reg")).then(pl.col("u"))),
        ("reg_no", "reg_no", pl.when(pl.col("r_valid")).then(pl.col("r"))),
        ("org_code", "org_code", pl.when(pl.col("o_valid")).then(pl.col("o"))),
    ]
    for i, (_, kind, key) in enumerate(legacy):
        idx = by_org if kind == "org_code" else by_reg
        src = "okey" if kind == "org_code" else "rkey"
        pre = "org" if kind == "org_code" else "reg"
        df = df.with_columns(key.alias(f"lk{i}")).join(
            idx.rename({src: f"lk{i}", f"{pre}_n": f"lk{i}_n", f"{pre}_uscc": f"lk{i}_uscc",
                        f"{pre}_candidates": f"lk{i}_cand"}),
            on=f"lk{i}", how="left",
        )
    df = df.join(by_code, on="code", how="left").join(by_name, on="name_norm", how="left")
    df = df.with_columns(pl.col("in_reg").fill_null(False), pl.col("name_n").fill_null(0),
                         *[pl.col(f"lk{i}_n").fill_null(0) for i in range(len(legacy))])

    # First legacy lookup that found something.
    lk_n = pl.lit(0, dtype=pl.UInt32)
    lk_uscc = pl.lit(None, dtype=pl.String)
    lk_field = pl.lit(None, dtype=pl.String)
    lk_kind = pl.lit(None, dtype=pl.String)
    lk_cand = pl.lit(None, dtype=pl.String)
    for i in reversed(range(len(legacy))):
        field, kind, _ = legacy[i]
        hit = pl.col(f"lk{i}_n") > 0
        lk_n = pl.when(hit).then(pl.col(f"lk{i}_n").cast(pl.UInt32)).otherwise(lk_n)
        lk_uscc = pl.when(hit).then(pl.col(f"lk{i}_uscc")).otherwise(lk_uscc)
        lk_field = pl.when(hit).then(pl.lit(field)).otherwise(lk_field)
        lk_kind = pl.when(hit).then(pl.lit(kind)).otherwise(lk_kind)
        lk_cand = pl.when(hit).then(pl.col(f"lk{i}_cand")).otherwise(lk_cand)
    df = df.with_columns(lk_n=lk_n, lk_uscc=lk_uscc, lk_field=lk_field, lk_kind=lk_kind, lk_cand=lk_cand)

    excel = pl.col("u").str.contains(cfg["excel_tail_pattern"]).fill_null(False)
    typo = (pl.col("u").str.len_chars() == 18) & (_hamming(pl.col("u"), pl.col("name_uscc")) == 1)
    u_invalid = pl.col("u").is_not_null() & ~pl.col("u_valid")
    c = pl.col
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
        (u_invalid & (c("name_n") == 1) & excel, "repaired", "name_excel_tail", c("name_uscc"),
         pl.lit("uscc"), pl.lit(PROBLEM_EXCEL), None),
        (u_invalid & (c("name_n") == 1) & typo.fill_null(False), "repaired", "name_typo", c("name_uscc"),
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

    # Problem text where the rule did not fix one: from the code's own defect.
    code_problem = (
        pl.when(c("field") != "uscc").then(
            pl.format(PROBLEM_LEGACY_ONLY.replace("{label}", "{}").replace("{found}", "{}"),
                      pl.when(c("field") == "reg_no").then(c("label_reg_no")).otherwise(c("label_org_code")),
                      pl.when(c("status") == "ambiguous").then(pl.lit("对应多个主体")).otherwise(pl.lit("有唯一对应"))))
        .when(c("u").is_null()).then(pl.lit(PROBLEM_MISSING))
        .when(c("u_org")).then(pl.lit(PROBLEM_LEGACY["org_code"]))
        .when(c("u_reg")).then(pl.lit(PROBLEM_LEGACY["reg_no"]))
        .otherwise(pl.concat_str([pl.lit("统一社会信用代码"),
                                  c("u_status").replace_strict(STATUS_LABELS, default=c("u_status"))]))
    )
    labels = {k: v["label"] for k, v in cfg["methods"].items()}
    conf = {k: float(v["confidence"]) for k, v in cfg["methods"].items()}
    df = df.with_columns(
        problem=pl.when(c("status").is_in(["valid", "person"])).then(None)
        .otherwise(pl.coalesce(c("problem"), code_problem)),
        confidence=c("method").replace_strict(conf, default=None, return_dtype=pl.Float64),
        method_label=c("method").replace_strict(labels, default=None, return_dtype=pl.String),
        field_label=pl.when(c("field") == "uscc").then(c("label_uscc"))
        .when(c("field") == "reg_no").then(c("label_reg_no"))
        .when(c("field") == "org_code").then(c("label_org_code"))
        .otherwise(c("label_id_no")),
        original_value=pl.when(c("field") == "uscc").then(c("uscc"))
        .when(c("field") == "reg_no").then(c("reg_no"))
        .when(c("field") == "org_code").then(c("org_code"))
        .otherwise(mask_id_expr(c("id_no"))),
    )
    return df, entries


# ---------------------------------------------------------------- writing


def _register_frame(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    con.register(name, frame.to_arrow())


SUBJECTS_SQL = """
WITH reg AS (  -- the latest current registration row of each valid code
    SELECT e.code AS subject_id, e.code AS uscc, r.name, e.name_norm, e.subject_kind,
           r.entity_type, r.region_code, r.industry_code, r.status, r.established_on,
           r.registered_capital, r.legal_rep, r.legal_rep_id_no_masked AS legal_rep_id_masked,
           e.r_norm AS reg_no, substr(e.code, 9, 9) AS org_code, TRUE AS in_register,
           row_number() OVER (PARTITION BY e.code ORDER BY r.batch_date DESC NULLS LAST,
               r.batch DESC NULLS LAST, r.source_file DESC, r.source_row DESC, r.record_id) AS rk
    FROM _codes_entries e JOIN _codes_registration r ON r.record_id = e.record_id
),
refs AS (  -- subjects known from records only
    SELECT subject_id, resolved_uscc AS uscc, subject_name AS name, name_norm, subject_kind,
           id_no_masked,
           count(*) OVER (PARTITION BY subject_id, name_norm) AS n_same
    FROM _codes_refs
    WHERE subject_id IS NOT NULL AND subject_id NOT IN (SELECT subject_id FROM reg)
),
other AS (
    SELECT subject_id, uscc, name, name_norm, subject_kind,
           CAST(NULL AS VARCHAR) AS entity_type, CAST(NULL AS VARCHAR) AS region_code,
           CAST(NULL AS VARCHAR) AS industry_code, CAST(NULL AS VARCHAR) AS status,
           CAST(NULL AS DATE) AS established_on, CAST(NULL AS DOUBLE) AS registered_capital,
           CAST(NULL AS VARCHAR) AS legal_rep, id_no_masked AS legal_rep_id_masked,
           CAST(NULL AS VARCHAR) AS reg_no, substr(uscc, 9, 9) AS org_code, FALSE AS in_register,
           row_number() OVER (PARTITION BY subject_id ORDER BY n_same DESC, name_norm, name,
               subject_kind) AS rk
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
dup AS (
    SELECT uscc, list(DISTINCT name_norm ORDER BY name_norm) AS names
    FROM regs GROUP BY uscc HAVING count(DISTINCT name_norm) > 1
),
cur AS (
    SELECT code AS uscc, subject_name AS name, name_norm FROM _codes_entries
),
multi AS (
    SELECT name_norm, list(DISTINCT uscc ORDER BY uscc) AS codes
    FROM cur WHERE name_norm IS NOT NULL GROUP BY name_norm HAVING count(DISTINCT uscc) > 1
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


def resolve_subjects(con: duckdb.DuckDBPyConnection, catalogue: Catalogue, key: bytes) -> dict[str, Any]:
    """Resolve every current subject reference; (re)write the codes tables in one
    transaction. Returns summary counts."""
    cfg = codes_settings(catalogue)
    person_kind = catalogue.subject_kinds["person"]
    refs = _read_refs(con, catalogue, key)
    refs = refs.with_columns(id_no_masked=mask_id_expr(pl.col("id_no")))
    df, entries = _classify(refs, cfg, person_kind)
    out_cols = [
        "record_id", "category", "department_code", "source_file", "source_row", "subject_name",
        "name_norm", "subject_kind", "resolved_uscc", "status", "method", "confidence", "field",
        "field_label", "original_value", "problem", "candidates", "method_label", "id_no_hash",
        "id_no_masked",
    ]
    refs_out = df.select(out_cols)  # no full ID number beyond this point
    entries_out = entries.select("record_id", "code", "subject_name", "name_norm", "subject_kind",
                                 pl.when(pl.col("r_valid")).then(pl.col("r")).alias("r_norm"))
    registration = _read_register(con, catalogue)
    all_regs = registration.lazy().with_columns(
        name_norm=normalize_name_expr(pl.col("name")),
        u=normalize_code_expr(pl.col("uscc")),
    ).with_columns(
        code=pl.when(uscc_is_valid_expr(pl.col("u")).fill_null(False)).then(pl.col("u"))
        .when(uscc_is_valid_expr(lookalike_fix_expr(pl.col("u"))).fill_null(False))
        .then(lookalike_fix_expr(pl.col("u"))),
    ).select("code", "name", "name_norm").collect()

    hex_n = SUBJECT_ID_HEX
    subject_id_sql = f"""
        CASE
            WHEN resolved_uscc IS NOT NULL THEN resolved_uscc
            WHEN status IN ('person', 'unresolved') AND field = 'id_no' AND id_no_hash IS NOT NULL
                THEN '{PERSON_PREFIX}' || substr(id_no_hash, 1, {hex_n})
            WHEN name_norm IS NOT NULL THEN '{NAME_PREFIX}' || substr(sha256(name_norm), 1, {hex_n})
        END"""
    con.execute("BEGIN TRANSACTION")
    try:
        _register_frame(con, "_codes_refs_in", refs_out)
        _register_frame(con, "_codes_entries", entries_out)
        _register_frame(con, "_codes_registration", registration)
        _register_frame(con, "_codes_all_registrations", all_regs)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _codes_refs AS "
                    f"SELECT *, {subject_id_sql} AS subject_id FROM _codes_refs_in")
        con.execute("CREATE SCHEMA IF NOT EXISTS codes")
        con.execute("CREATE SCHEMA IF NOT EXISTS audit")
        con.execute(f"CREATE OR REPLACE TABLE codes.subjects AS {SUBJECTS_SQL}")
        con.execute("""CREATE OR REPLACE TABLE codes.register AS
            SELECT * FROM codes.subjects WHERE in_register ORDER BY subject_id""")
        con.execute("""CREATE OR REPLACE TABLE codes.subject_refs AS
            SELECT record_id, category, department_code, subject_id, resolved_uscc, status, method,
                   confidence
            FROM _codes_refs ORDER BY category, record_id""")
        con.execute(f"""CREATE OR REPLACE TABLE audit.code_resolutions AS
            SELECT {', '.join(RESOLUTION_COLUMNS)}
            FROM _codes_refs
            WHERE status IN ('repaired', 'ambiguous', 'unresolved', 'unknown_subject')
            ORDER BY source_file, source_row, category, record_id""")
        con.execute(f"CREATE OR REPLACE TABLE audit.code_conflicts AS {CONFLICTS_SQL}")
        con.execute("DROP TABLE _codes_refs")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        for v in ("_codes_refs_in", "_codes_entries", "_codes_registration", "_codes_all_registrations"):
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
