"""The scorecard's grain counts as computed before the incremental state (commit
228fd5d, pipelines/quality/scorecard.py): every count over the whole warehouse on every
run. Kept as the oracle of tests/quality/test_scorecard_incremental.py. What the incremental
change left as it was (SQL helpers, the row-outcome and file counts) is imported, not
copied."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from pipelines.catalogue import Catalogue, Category
from pipelines.quality.scorecard import (  # the helpers the old code shared with today's, unchanged
    COUNTS,
    GRAIN,
    _columns,
    _file_counts,
    _lit,
    _outcome_counts,
    _q,
    _required_checks,
    _table_exists,
    codes_available,
    quality_settings,
)
from pipelines.quality.workdays import register_workday_calendar

# --------------------------------------------------------------------------- grain SQL


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
    from pipelines.textnorm import normalize_header

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
