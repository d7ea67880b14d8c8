"""Published draws (一公开): once a department's draw for a period is published it is never
silently changed. Each publication is recorded in ``deliver.published_draws`` with a
version, the fingerprint of its inputs and of its list, and the inputs themselves
(JSON: seed, period, strata, eligible candidates, roster badges and regions), so that
``redraw`` can recompute it later. Re-publishing identical inputs and list is a no-op
(same version); anything different becomes a new version, recorded with the previous one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import duckdb

from . import recipe

DDL = [
    "create schema if not exists deliver",
    """create table if not exists deliver.published_draws (
        department_code varchar not null,
        period varchar not null,
        version integer not null,
        seed varchar not null,
        as_of date,
        inputs_fingerprint varchar not null,
        draw_fingerprint varchar not null,
        rows bigint not null,
        inputs json not null,
        supersedes_version integer,
        change_reason varchar,
        published_at timestamp not null,
        primary key (department_code, period, version)
    )""",
    """create table if not exists deliver.published_draw_rows (
        department_code varchar not null,
        period varchar not null,
        version integer not null,
        grade varchar not null,
        draw_rank integer not null,
        subject_id varchar not null,
        uscc varchar,
        name varchar,
        draw_key varchar not null,
        inspector_1 varchar,
        inspector_1_badge_no varchar,
        inspector_2 varchar,
        inspector_2_badge_no varchar,
        seed varchar not null
    )""",
]

ROW_COLUMNS = ["grade", "draw_rank", "subject_id", "uscc", "name", "draw_key", "inspector_1",
               "inspector_1_badge_no", "inspector_2", "inspector_2_badge_no", "seed"]


@dataclass(frozen=True)
class PublishedDraw:
    department_code: str
    period: str
    version: int
    rows: int
    status: str            # "new" (first version) | "unchanged" | "changed" (a new version)
    inputs_fingerprint: str
    draw_fingerprint: str
    seed: str


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for stmt in DDL:
        con.execute(stmt)


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def fingerprint(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def _dicts(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def current_period(con: duckdb.DuckDBPyConnection) -> tuple[str | None, dt.date | None, str | None]:
    """(period, as_of, seed) of the sampling models as last built."""
    rows = con.execute("select period, as_of, seed from marts.sampling_plan limit 1").fetchall()
    if not rows:
        rows = con.execute("select period, as_of, seed from marts.sampling_candidates limit 1").fetchall()
    return (rows[0][0], rows[0][1], rows[0][2]) if rows else (None, None, None)


def draw_inputs(con: duckdb.DuckDBPyConnection, department_code: str) -> dict[str, Any] | None:
    """What the department's current draw depends on (from the marts), or None when the
    department has no plan or the period no seed."""
    strata = _dicts(con, """
        select grade, population, eligible, cast(ratio as varchar) as ratio,
               minimum_per_stratum as minimum, sample_size, period, seed
        from marts.sampling_plan where department_code = ? order by grade""", [department_code])
    if not strata or strata[0]["seed"] is None:
        return None
    period, seed = strata[0]["period"], strata[0]["seed"]
    candidates = _dicts(con, """
        select subject_id, grade, region_code from marts.sampling_candidates
        where department_code = ? and is_eligible and draws order by grade, subject_id""", [department_code])
    roster = _dicts(con, """
        select badge_no, region_code from marts.sampling_roster
        where department_code = ? order by badge_no""", [department_code])
    return {
        "recipe": recipe.RECIPE,
        "department_code": department_code,
        "period": period,
        "seed": seed,
        "strata": [{k: s[k] for k in ("grade", "population", "eligible", "ratio", "minimum", "sample_size")}
                   for s in strata],
        "candidates": candidates,
        "roster": roster,
    }


def current_draw_rows(con: duckdb.DuckDBPyConnection, department_code: str) -> list[dict[str, Any]]:
    return _dicts(con, f"""
        select {', '.join(ROW_COLUMNS)} from marts.inspection_draw
        where department_code = ? order by grade, draw_rank""", [department_code])


def latest_version(con: duckdb.DuckDBPyConnection, department_code: str, period: str
                   ) -> dict[str, Any] | None:
    rows = _dicts(con, """
        select * from deliver.published_draws where department_code = ? and period = ?
        order by version desc limit 1""", [department_code, period])
    return rows[0] if rows else None


def published_rows(con: duckdb.DuckDBPyConnection, department_code: str, period: str, version: int
                   ) -> list[dict[str, Any]]:
    return _dicts(con, f"""
        select {', '.join(ROW_COLUMNS)} from deliver.published_draw_rows
        where department_code = ? and period = ? and version = ?
        order by grade, draw_rank, subject_id""", [department_code, period, version])


def publish_draw(con: duckdb.DuckDBPyConnection, department_code: str,
                 now: dt.datetime | None = None) -> PublishedDraw | None:
    """Record the department's current draw (marts.inspection_draw) as published.
    Returns None when there is nothing to publish (no plan, or no seed for the period)."""
    ensure_tables(con)
    inputs = draw_inputs(con, department_code)
    if inputs is None:
        return None
    rows = current_draw_rows(con, department_code)
    period, seed = inputs["period"], inputs["seed"]
    in_fp, draw_fp = fingerprint(inputs), fingerprint(rows)
    last = latest_version(con, department_code, period)
    if last and last["inputs_fingerprint"] == in_fp and last["draw_fingerprint"] == draw_fp:
        return PublishedDraw(department_code, period, last["version"], last["rows"], "unchanged",
                             in_fp, draw_fp, seed)
    version = 1 if last is None else last["version"] + 1
    reason = None
    if last is not None:
        old = json.loads(last["inputs"]) if isinstance(last["inputs"], str) else last["inputs"]
        changed = [k for k in ("seed", "strata", "candidates", "roster") if old.get(k) != inputs.get(k)]
        reason = ("inputs changed: " + ", ".join(changed)) if changed else "list changed with the same inputs"
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    as_of = con.execute("select max(as_of) from marts.sampling_plan where department_code = ?",
                        [department_code]).fetchall()[0][0]
    con.execute("begin transaction")
    try:
        con.execute("""insert into deliver.published_draws values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [department_code, period, version, seed, as_of, in_fp, draw_fp, len(rows),
                     canonical_json(inputs), None if last is None else last["version"], reason, now])
        # The rows just fingerprinted, copied inside the engine (one statement, not a
        # parameterised insert per row): same source, same order, same transaction.
        con.execute(f"""insert into deliver.published_draw_rows
                (department_code, period, version, {', '.join(ROW_COLUMNS)})
            select ?, ?, ?, {', '.join(ROW_COLUMNS)} from marts.inspection_draw
            where department_code = ? order by grade, draw_rank""",
                    [department_code, period, version, department_code])
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return PublishedDraw(department_code, period, version, len(rows), "new" if last is None else "changed",
                         in_fp, draw_fp, seed)
