"""Data-quality scorecard: DuckDB SQL over the audit and raw tables.

Every metric is a ratio of two counts computed at one grain, (department, category,
batch), so it rolls up exactly to department × category, department, department × batch
(the trend) and overall:

- 完整性 completeness = filled / checked required fields. Every delivered row (loaded,
  superseded, rejected) is checked against every ``required`` field, and against every
  ``required_when`` field whose condition holds (``unless_any`` alternatives empty).
  Rejected rows are read from ``audit.rejected_rows.raw`` through the catalogue headers.
- 有效性 validity = 1 − rejected rows / delivered rows (duplicate files excluded), with the
  rejections broken down by rule id (a row can fail several rules).
- 唯一性 uniqueness = 1 − (superseded + duplicate) / (loaded + superseded + duplicate).
- 及时性 timeliness = share of raw records delivered within N working days (official
  calendar) of the category's main date (``quality.main_date``).
- 一致性 consistency = subject references valid as delivered (``valid`` or ``person``) /
  all references in ``codes.subject_refs``; also the shares repaired, unresolved
  (ambiguous + unresolved), not in the register, and involved in code conflicts.
  Skipped (None) when the codes tables do not exist yet.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..catalogue import Catalogue, Category
from .masking import mask_ids
from .workdays import register_workday_calendar

DIMENSIONS = ["completeness", "validity", "uniqueness", "timeliness", "consistency"]
DIMENSION_LABELS = {
    "completeness": "完整性",
    "validity": "有效性",
    "uniqueness": "唯一性",
    "timeliness": "及时性",
    "consistency": "一致性",
}
RULE_LABELS = {
    "required": "必填项为空",
    "required_when": "条件必填项为空",
    "enum": "取值不在代码表内",
    "date_format": "日期格式错误或日期不存在",
    "date_future": "日期晚于报送日期",
    "date_order": "日期先后顺序错误",
    "date_range": "日期过早（疑似录入错误）",
    "number_format": "数值格式错误",
    "min": "数值低于下限",
    "max": "数值超过上限",
    "code_invalid": "代码校验不通过",
    "subject_kind": "主体类别不适用于该信息类别",
    "unreadable": "文件无法读取",
    "empty": "空文件",
    "missing_column": "缺少必填列",
    "unknown_department": "未登记的报送部门",
    "unknown_category": "未知的信息类别",
    "bad_batch": "批次目录名不合规",
    "unsupported_format": "不支持的文件格式",
    "changed_file": "同名文件内容被更改",
    "rejected_file": "整个文件被退回",
}
GRAIN = ["department_code", "category", "batch", "batch_date"]
COUNTS = [
    "files", "files_rejected", "rows_read", "rows_delivered", "rows_loaded", "rows_rejected",
    "rows_superseded", "rows_duplicate", "checks_total", "checks_filled", "timely_measured",
    "timely_on_time", "timely_lag_sum", "refs_total", "refs_ok", "refs_repaired",
    "refs_unresolved", "refs_unknown", "refs_conflict",
]


# --------------------------------------------------------------------------- helpers


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(v: str) -> str:
    return "'" + str(v).replace("'", "''") + "'"


def _table_exists(con, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()[0][0]
    )


def _columns(con, schema: str, table: str) -> set[str]:
    return {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
    }


def quality_settings(catalogue: Catalogue) -> dict[str, Any]:
    try:
        return dict(catalogue.setting("quality") or {})
    except KeyError:
        return {}


def _filled(expr: str) -> str:
    return f"({expr} is not null and trim(cast({expr} as varchar)) <> '')"


def _required_checks(category: Category, value_of, enum_value_of) -> tuple[str, str]:
    """SQL (checks, filled) expressions for one row, given field-value SQL builders."""
    checks: list[str] = []
    filled: list[str] = []
    for f in category.fields:
        if f.required:
            checks.append("1")
            filled.append(f"cast({_filled(value_of(f.name))} as integer)")
        elif f.required_when:
            target = category.by_name[f.required_when.field]
            tv = enum_value_of(target.name)
            vals = ", ".join(_lit(v) for v in f.required_when.in_)
            if target.type == "enum_list":
                cond = f"coalesce(len(list_intersect(list_transform(regexp_split_to_array({tv}, '[;；、,，]'), lambda x: trim(x)), [{vals}])) > 0, false)"
            else:
                cond = f"coalesce({tv} in ({vals}), false)"
            for other in f.unless_any:
                cond += f" and not {_filled(value_of(other))}"
            checks.append(f"cast(({cond}) as integer)")
            filled.append(f"cast(({cond}) and {_filled(value_of(f.name))} as integer)")
    if not checks:
        return "0", "0"
    return " + ".join(checks), " + ".join(filled)


# --------------------------------------------------------------------------- grain SQL


def _outcome_counts(con) -> pd.DataFrame:
    return con.execute(
        """
        select l.department_code, coalesce(l.category, o.category) as category, l.batch, l.batch_date,
               count(*) as rows_read,
               count(*) filter (where o.outcome <> 'duplicate') as rows_delivered,
               count(*) filter (where o.outcome = 'loaded') as rows_loaded,
               count(*) filter (where o.outcome = 'rejected') as rows_rejected,
               count(*) filter (where o.outcome = 'superseded') as rows_superseded,
               count(*) filter (where o.outcome = 'duplicate') as rows_duplicate
        from audit.row_outcomes o join audit.loads l on l.source_file = o.source_file
        group by all
        """
    ).df()


def _file_counts(con) -> pd.DataFrame:
    return con.execute(
        """
        select department_code, category, batch, batch_date, count(*) as files,
               count(*) filter (where status = 'rejected_file') as files_rejected
        from audit.loads group by all
        """
    ).df()


def _rejected_keys(con, category: str) -> list[str]:
    rows = con.execute(
        "select distinct unnest(json_keys(raw)) from audit.rejected_rows where category = ? and raw is not null",
        [category],
    ).fetchall()
    return [r[0] for r in rows if r[0] is not None]


def _completeness_sql(con, category: Category) -> list[str]:
    parts: list[str] = []
    if _table_exists(con, "raw", category.id):
        cols = _columns(con, "raw", category.id)

        def raw_value(name: str) -> str:
            return _q(name) if name in cols else "null"

        checks, filled = _required_checks(category, raw_value, raw_value)
        parts.append(
            f"select department_code, {_lit(category.id)} as category, batch, batch_date, "
            f"sum({checks}) as checks_total, sum({filled}) as checks_filled "
            f"from raw.{_q(category.id)} group by all"
        )
    keys = _rejected_keys(con, category.id)
    by_field: dict[str, list[str]] = {}
    hmap = category.header_map
    from ..textnorm import normalize_header

    for k in keys:
        name = hmap.get(normalize_header(k))
        if name:
            by_field.setdefault(name, []).append(k)

    def rej_value(name: str) -> str:
        ks = by_field.get(name)
        if not ks:
            return "null"
        exprs = [
            "nullif(trim(json_extract_string(rr.raw, " + _lit('$."' + k.replace('"', '\\"') + '"') + ")), '')"
            for k in ks
        ]
        return exprs[0] if len(exprs) == 1 else "coalesce(" + ", ".join(exprs) + ")"

    def rej_enum_value(name: str) -> str:
        v = rej_value(name)
        f = category.by_name[name]
        if v == "null" or not f.enum_aliases:
            return v
        whens = " ".join(f"when {_lit(a)} then {_lit(c)}" for a, c in f.enum_aliases.items())
        return f"(case {v} {whens} else {v} end)"

    checks, filled = _required_checks(category, rej_value, rej_enum_value)
    parts.append(
        f"select l.department_code, {_lit(category.id)} as category, l.batch, l.batch_date, "
        f"sum({checks}) as checks_total, sum({filled}) as checks_filled "
        f"from audit.rejected_rows rr join audit.loads l on l.source_file = rr.source_file "
        f"where rr.category = {_lit(category.id)} group by all"
    )
    return parts


def _timeliness_sql(con, catalogue: Catalogue, cal: str, max_days: int) -> list[str]:
    main = quality_settings(catalogue).get("main_date", {}) or {}
    parts = []
    for cat_id, field_name in main.items():
        if not field_name or cat_id not in catalogue.categories:
            continue
        if not _table_exists(con, "raw", cat_id) or field_name not in _columns(con, "raw", cat_id):
            continue
        parts.append(
            f"""
            select r.department_code, {_lit(cat_id)} as category, r.batch, r.batch_date,
                   count(*) as timely_measured,
                   count(*) filter (where greatest(cb.workday_index - cd.workday_index, 0) <= {int(max_days)}) as timely_on_time,
                   sum(greatest(cb.workday_index - cd.workday_index, 0)) as timely_lag_sum
            from raw.{_q(cat_id)} r
            join {cal} cd on cd.d = r.{_q(field_name)}
            join {cal} cb on cb.d = r.batch_date
            group by all
            """
        )
    return parts


def _date_span(con, catalogue: Catalogue) -> tuple[dt.date, dt.date] | None:
    main = quality_settings(catalogue).get("main_date", {}) or {}
    sel = []
    for cat_id, field_name in main.items():
        if field_name and _table_exists(con, "raw", cat_id) and field_name in _columns(con, "raw", cat_id):
            sel.append(f"select min({_q(field_name)}) lo, max(batch_date) hi from raw.{_q(cat_id)}")
            sel.append(f"select min(batch_date) lo, max({_q(field_name)}) hi from raw.{_q(cat_id)}")
    if not sel:
        return None
    lo, hi = con.execute(f"select min(lo), max(hi) from ({' union all '.join(sel)})").fetchall()[0]
    if lo is None or hi is None:
        return None
    lo = max(lo, dt.date(1949, 10, 1))
    return lo, hi


def codes_available(con) -> bool:
    return _table_exists(con, "codes", "subject_refs")


def _consistency_sql(con, catalogue: Catalogue) -> list[str]:
    if not codes_available(con):
        return []
    unions = [
        f"select record_id, batch, batch_date from raw.{_q(c.id)}"
        for c in catalogue.categories.values()
        if c.has_subject and _table_exists(con, "raw", c.id)
    ]
    if not unions:
        return []
    conflict = "false"
    if _table_exists(con, "audit", "code_conflicts"):
        conflict = "coalesce(s.resolved_uscc in (select uscc from audit.code_conflicts where uscc is not null), false)"
    return [
        f"""
        select s.department_code, s.category, r.batch, r.batch_date,
               count(*) as refs_total,
               count(*) filter (where s.status in ('valid', 'person')) as refs_ok,
               count(*) filter (where s.status = 'repaired') as refs_repaired,
               count(*) filter (where s.status in ('ambiguous', 'unresolved')) as refs_unresolved,
               count(*) filter (where s.status = 'unknown_subject') as refs_unknown,
               count(*) filter (where {conflict}) as refs_conflict
        from codes.subject_refs s join ({' union all '.join(unions)}) r on r.record_id = s.record_id
        group by all
        """
    ]


def grain_counts(con, catalogue: Catalogue) -> pd.DataFrame:
    """All counts at (department_code, category, batch, batch_date)."""
    s = quality_settings(catalogue)
    max_days = int((s.get("timeliness") or {}).get("max_working_days", 7))
    frames = [_outcome_counts(con), _file_counts(con)]
    comp = [p for c in catalogue.categories.values() for p in _completeness_sql(con, c)]
    if comp:
        frames.append(con.execute(" union all ".join(f"({p})" for p in comp)).df())
    span = _date_span(con, catalogue)
    if span:
        cal = register_workday_calendar(con, *span)
        tp = _timeliness_sql(con, catalogue, cal, max_days)
        if tp:
            frames.append(con.execute(" union all ".join(f"({p})" for p in tp)).df())
    for p in _consistency_sql(con, catalogue):
        frames.append(con.execute(p).df())
    out = None
    for f in frames:
        f = f.copy()
        for g in GRAIN:
            if g not in f.columns:
                f[g] = None
        f["batch_date"] = pd.to_datetime(f["batch_date"]).dt.date
        f = f.groupby(GRAIN, dropna=False, as_index=False).sum(numeric_only=True)
        out = f if out is None else out.merge(f, on=GRAIN, how="outer")
    assert out is not None
    for c in COUNTS:
        if c not in out.columns:
            out[c] = 0
        out[c] = out[c].fillna(0).astype("int64") if c != "timely_lag_sum" else out[c].fillna(0).astype(float)
    out["category"] = out["category"].fillna("（未识别类别）")
    out["department_code"] = out["department_code"].fillna("（未识别部门）")
    return out[GRAIN + COUNTS].sort_values(GRAIN, na_position="last").reset_index(drop=True)


# --------------------------------------------------------------------------- metrics


def _ratio(n: float, d: float) -> float | None:
    return None if not d else float(n) / float(d)


def metrics(counts: dict[str, Any], has_codes: bool) -> dict[str, Any]:
    c = {k: counts.get(k, 0) or 0 for k in COUNTS}
    uniq_base = c["rows_loaded"] + c["rows_superseded"] + c["rows_duplicate"]
    rej = _ratio(c["rows_rejected"], c["rows_delivered"])
    timely = _ratio(c["timely_on_time"], c["timely_measured"])
    dims = {
        "completeness": _ratio(c["checks_filled"], c["checks_total"]),
        "validity": None if rej is None else 1.0 - rej,
        "uniqueness": None if not uniq_base else 1.0 - (c["rows_superseded"] + c["rows_duplicate"]) / uniq_base,
        "timeliness": timely,
        "consistency": _ratio(c["refs_ok"], c["refs_total"]) if has_codes else None,
    }
    rates = {
        "rejection_rate": rej,
        "late_share": None if timely is None else 1.0 - timely,
        "avg_lag": _ratio(c["timely_lag_sum"], c["timely_measured"]),
        "duplicate_share": None if not uniq_base else (c["rows_superseded"] + c["rows_duplicate"]) / uniq_base,
        "repaired_share": _ratio(c["refs_repaired"], c["refs_total"]) if has_codes else None,
        "unresolved_share": _ratio(c["refs_unresolved"], c["refs_total"]) if has_codes else None,
        "unknown_share": _ratio(c["refs_unknown"], c["refs_total"]) if has_codes else None,
        "conflict_share": _ratio(c["refs_conflict"], c["refs_total"]) if has_codes else None,
    }
    return {"dims": dims, "rates": rates, "counts": {k: (float(v) if k == "timely_lag_sum" else int(v)) for k, v in c.items()}}


def score(dims: dict[str, float | None], weights: dict[str, float]) -> float | None:
    avail = [(weights.get(d, 0.0), v) for d, v in dims.items() if v is not None and weights.get(d, 0.0) > 0]
    tw = sum(w for w, _ in avail)
    if not tw:
        return None
    return 100.0 * sum(w * v for w, v in avail) / tw


def _rollup(grain: pd.DataFrame, by: list[str]) -> list[dict[str, Any]]:
    if grain.empty:
        return []
    g = grain.groupby(by, dropna=False, as_index=False)[COUNTS].sum()
    return g.to_dict("records")


# --------------------------------------------------------------------------- reasons


def rejection_reasons(con, catalogue: Catalogue, top: int, examples: int) -> pd.DataFrame:
    """Per department and rule id: rows, and masked examples (reason text, file, row)."""
    df = con.execute(
        f"""
        with r as (
            select l.department_code, rr.category, rr.source_file, rr.source_row, rr.reasons,
                   unnest(case when rr.rule_ids is null or len(rr.rule_ids) = 0 then ['unknown'] else rr.rule_ids end) as rule_id
            from audit.rejected_rows rr join audit.loads l on l.source_file = rr.source_file
        ),
        f as (  -- rejected files whose rows are not itemised in audit.rejected_rows
            select l.department_code, l.category, l.source_file, null::bigint as source_row, l.reason as reasons,
                   'rejected_file' as rule_id, greatest(coalesce(l.rows_read, 0), 1) as n
            from audit.loads l
            where l.status = 'rejected_file'
              and not exists (select 1 from audit.rejected_rows x where x.source_file = l.source_file)
        ),
        u as (select *, 1 as n from r union all by name select * from f),
        ranked as (
            select *, row_number() over (partition by department_code, rule_id order by source_file, source_row) as k
            from u
        )
        select department_code, rule_id, sum(n) as rows,
               list({{'source_file': source_file, 'source_row': source_row, 'category': category, 'reason': reasons}}
                    order by source_file, source_row) filter (where k <= {int(examples)}) as examples
        from ranked group by all
        """
    ).df()
    if df.empty:
        return df
    df["examples"] = df["examples"].map(
        lambda xs: [
            {**x, "source_file": mask_ids(x["source_file"]), "reason": mask_ids(x["reason"] or ""),
             "source_row": None if x["source_row"] is None or pd.isna(x["source_row"]) else int(x["source_row"])}
            for x in (list(xs) if xs is not None else [])
        ]
    )
    df["rule_label"] = df["rule_id"].map(lambda r: RULE_LABELS.get(r, r))
    df = df.sort_values(["department_code", "rows", "rule_id"], ascending=[True, False, True])
    return df.groupby("department_code", group_keys=False).head(top).reset_index(drop=True)


def rejection_by_rule(con) -> pd.DataFrame:
    """Rows rejected per (department, category, rule id) — a row may count under several rules."""
    return con.execute(
        """
        select department_code, category, rule_id, count(*) as rows from (
            select l.department_code, rr.category, unnest(rr.rule_ids) as rule_id
            from audit.rejected_rows rr join audit.loads l on l.source_file = rr.source_file
        ) group by all order by all
        """
    ).df()


def deliveries(con) -> pd.DataFrame:
    """What arrived, from whom, when: one row per delivered file."""
    return con.execute(
        """
        select department_code, batch, batch_date, category, source_file, file_format, encoding,
               rows_read, rows_loaded, rows_rejected, rows_duplicate, status, reason, loaded_at
        from audit.loads order by department_code, batch_date, batch, source_file
        """
    ).df()


# --------------------------------------------------------------------------- the scorecard


@dataclass
class Scorecard:
    as_of: dt.date
    generated_at: str
    catalogue_version: str
    weights: dict[str, float]
    thresholds: dict[str, Any]
    has_codes: bool
    overall: dict[str, Any]
    departments: list[dict[str, Any]]
    grain: pd.DataFrame = field(repr=False)
    reasons: pd.DataFrame = field(repr=False)
    files: pd.DataFrame = field(repr=False)

    def department(self, code: str) -> dict[str, Any]:
        for d in self.departments:
            if d["code"] == code:
                return d
        raise KeyError(code)

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "generated_at": self.generated_at,
            "catalogue_version": self.catalogue_version,
            "weights": self.weights,
            "thresholds": self.thresholds,
            "has_codes": self.has_codes,
            "overall": self.overall,
            "departments": [{k: v for k, v in d.items() if k not in ("files",)} for d in self.departments],
        }


def _threshold_breaches(entry: dict[str, Any], thresholds: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    values = {**entry["dims"], **entry["rates"], "score": entry["score"]}
    for key, lim in (thresholds.get("min") or {}).items():
        v = values.get(key)
        if v is not None and v < float(lim):
            out.append({"key": key, "kind": "min", "limit": float(lim), "value": v, "severity": "ERROR"})
    for key, lim in (thresholds.get("max") or {}).items():
        v = values.get(key)
        if v is not None and v > float(lim):
            out.append({"key": key, "kind": "max", "limit": float(lim), "value": v, "severity": "WARN"})
    return out


def compute_scorecard(con, catalogue: Catalogue, as_of: dt.date | None = None) -> Scorecard:
    s = quality_settings(catalogue)
    weights = {k: float(v) for k, v in (s.get("weights") or {}).items()}
    thresholds = s.get("thresholds") or {}
    rep = s.get("report") or {}
    has_codes = codes_available(con)
    grain = grain_counts(con, catalogue)
    reasons = rejection_reasons(con, catalogue, int(rep.get("top_reasons", 10)), int(rep.get("examples_per_reason", 3)))
    by_rule = rejection_by_rule(con)
    files = deliveries(con)

    def entry(counts: dict[str, Any]) -> dict[str, Any]:
        m = metrics(counts, has_codes)
        m["score"] = score(m["dims"], weights)
        return m

    overall = entry({k: grain[k].sum() for k in COUNTS}) if not grain.empty else entry({})
    overall["breaches"] = _threshold_breaches(overall, thresholds)
    departments: list[dict[str, Any]] = []
    cats = {r["department_code"]: [] for r in _rollup(grain, ["department_code"])}
    for r in _rollup(grain, ["department_code", "category"]):
        cat = catalogue.categories.get(r["category"])
        e = entry(r)
        e.update(category=r["category"], name=cat.name if cat else r["category"])
        e["rules"] = {
            x.rule_id: int(x.rows)
            for x in by_rule[(by_rule.department_code == r["department_code"]) & (by_rule.category == r["category"])].itertuples()
        } if not by_rule.empty else {}
        cats.setdefault(r["department_code"], []).append(e)
    trend: dict[str, list] = {}
    for r in _rollup(grain.drop(columns=["category"]), ["department_code", "batch", "batch_date"]):
        e = entry(r)
        e.update(batch=r["batch"], batch_date=r["batch_date"].isoformat() if r["batch_date"] is not None and not pd.isna(r["batch_date"]) else None)
        trend.setdefault(r["department_code"], []).append(e)
    for r in _rollup(grain, ["department_code"]):
        code = r["department_code"]
        dep = catalogue.departments.get(code)
        e = entry(r)
        e.update(code=code, name=dep.name if dep else code, categories=cats.get(code, []),
                 trend=sorted(trend.get(code, []), key=lambda t: (t["batch_date"] or "", t["batch"] or "")))
        e["breaches"] = _threshold_breaches(e, thresholds)
        dr = reasons[reasons.department_code == code] if not reasons.empty else reasons
        e["top_reasons"] = [
            {"rule_id": x.rule_id, "rule_label": x.rule_label, "rows": int(x.rows),
             "share": _ratio(int(x.rows), e["counts"]["rows_delivered"]), "examples": x.examples}
            for x in dr.itertuples()
        ] if not dr.empty else []
        e["rejected_csv"] = f"rejected_{code}.csv"
        departments.append(e)
    departments.sort(key=lambda d: d["code"])
    return Scorecard(
        as_of=as_of or dt.date.today(),
        generated_at=dt.datetime.now().isoformat(timespec="seconds"),
        catalogue_version=catalogue.version,
        weights=weights,
        thresholds=thresholds,
        has_codes=has_codes,
        overall=overall,
        departments=departments,
        grain=grain,
        reasons=reasons,
        files=files,
    )


# --------------------------------------------------------------------------- rejected rows CSV


def rejected_rows_frame(con, catalogue: Catalogue, department_code: str) -> pd.DataFrame:
    """The department's rejected rows, masked (no full ID number, personal fields masked)."""
    from ..textnorm import normalize_header
    from .masking import mask_personal

    df = con.execute(
        """
        select rr.source_file, rr.source_row, rr.category, l.batch, l.batch_date,
               array_to_string(rr.rule_ids, ';') as rule_ids, rr.reasons, rr.raw::varchar as raw
        from audit.rejected_rows rr join audit.loads l on l.source_file = rr.source_file
        where l.department_code = ? order by l.batch_date, rr.source_file, rr.source_row
        """,
        [department_code],
    ).df()

    def mask_raw(cat_id: str, raw: str | None) -> str | None:
        if raw is None:
            return None
        cat = catalogue.categories.get(cat_id)
        try:
            obj = json.loads(raw)
        except ValueError:
            return mask_ids(raw)
        if isinstance(obj, dict):
            personal = {f.name for f in cat.personal_fields} if cat else set()
            out = {}
            for k, v in obj.items():
                name = cat.header_map.get(normalize_header(str(k))) if cat else None
                if name in personal and v not in (None, ""):
                    out[k] = mask_ids(str(v)) if cat.by_name[name].code_kind == "id_no" else mask_personal(v)
                    if out[k] == str(v):  # an ID field whose value does not look like an ID
                        out[k] = mask_personal(v)
                else:
                    out[k] = mask_ids(v) if isinstance(v, str) else v
            return json.dumps(out, ensure_ascii=False)
        return mask_ids(json.dumps(obj, ensure_ascii=False))

    df["raw"] = [mask_raw(c, r) for c, r in zip(df["category"], df["raw"], strict=True)]
    df["reasons"] = df["reasons"].map(mask_ids)
    df["source_file"] = df["source_file"].map(mask_ids)
    df["category"] = df["category"].map(lambda c: f"{catalogue.categories[c].name}（{c}）" if c in catalogue.categories else c)
    return df.rename(
        columns={
            "source_file": "来源文件", "source_row": "行号", "category": "信息类别", "batch": "批次",
            "batch_date": "报送日期", "rule_ids": "规则编号", "reasons": "退回原因", "raw": "原始数据（已脱敏）",
        }
    )
