"""`credit report CODE`: a subject's credit report (信用报告) as one printable HTML page.

    from pipelines.warehouse.report import write_subject_report
    with duckdb.connect(str(Paths.from_env().warehouse), read_only=True) as con:
        path = write_subject_report(con, "91130100MA0000002X", Paths.from_env().reports / "subjects")

``write_subject_report(con, query, out_dir, as_of=None) -> Path`` finds the subject with
:func:`pipelines.warehouse.lookup.lookup` (USCC, subject_id, legacy code or name) and
writes ``<out_dir>/<subject_id>.html``: the subject, its grade and the sanctions that
apply, the grade history (inline SVG), the score explained by dimension and indicator,
its credit records (public ones first), repairs and objections. Everything is inline
(CSS with ``@media print``, SVG): the page makes no network request. Only masked ID
numbers are shown (marts.* carry no full ones). Raises :class:`SubjectNotFound` (with the
candidates) when the query does not name exactly one subject.

``subject_report_main(query, as_of=None, paths=None) -> Path`` does the same on a
short-lived read-only connection to ``$CREDIT_DATA_DIR`` and writes to
``$CREDIT_DATA_DIR/reports/subjects/``.

Reads marts.subjects / credit_grades / score_components / credit_records,
config.grade_thresholds (bands of the chart, optional) and, when present, the repair and
objection details of intermediate.int_repairs / int_objections.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from ..settings import Paths
from .lookup import CATEGORY_NAMES, GRADE_NAMES, _rows, _table_exists, lookup

TEMPLATES = Path(__file__).resolve().parent / "templates"
GRADE_COLORS = {"A": "#2e7d32", "B": "#1565c0", "C": "#ef6c00", "D": "#c62828"}
DEFAULT_THRESHOLDS = {"A": 900, "B": 750, "C": 600, "D": 0}
CATEGORY_NAMES_ALL = {**CATEGORY_NAMES, "credit_repair": "信用修复", "objection": "异议",
                      "registration": "登记注册"}


class SubjectNotFound(LookupError):
    """The query names no subject or several; ``result`` is the lookup dict (candidates)."""

    def __init__(self, result: dict[str, Any]):
        super().__init__(f"{result.get('query')}: {result.get('error', '未找到该主体')}")
        self.result = result


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float):
        return str(int(v)) if v == int(v) else f"{v:g}"
    return str(v)


def _thresholds(con: Any, model_version: str | None) -> dict[str, float]:
    if model_version and _table_exists(con, "config", "grade_thresholds"):
        rows = _rows(con, "select grade, min_score from config.grade_thresholds where model_version = ?",
                     [model_version])
        if rows:
            return {r["grade"]: float(r["min_score"]) for r in rows}
    return dict(DEFAULT_THRESHOLDS)


def history_svg(history: list[dict[str, Any]], thresholds: dict[str, float],
                width: int = 640, height: int = 220) -> Markup:
    """Score history as an inline SVG: grade bands, a line through the evaluations, one dot
    per evaluation coloured by its (final) grade. No xmlns: inline SVG in HTML needs none."""
    left, right, top, bottom = 44, 12, 10, 34
    pw, ph = width - left - right, height - top - bottom

    def y(score: float) -> float:
        return top + ph * (1 - max(0.0, min(1000.0, score)) / 1000)

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'role="img" aria-label="评分历史 / score history">']
    bounds = sorted(((g, thresholds.get(g, DEFAULT_THRESHOLDS[g])) for g in "ABCD"), key=lambda t: -t[1])
    upper = 1000.0
    for g, lo in bounds:
        parts.append(f'<rect x="{left}" y="{y(upper):.1f}" width="{pw}" height="{y(lo) - y(upper):.1f}" '
                     f'fill="{GRADE_COLORS[g]}" fill-opacity="0.08"/>')
        parts.append(f'<text x="{left + pw - 4}" y="{y(upper) + 12:.1f}" text-anchor="end" '
                     f'class="band">{g}</text>')
        upper = lo
    for s in (0, 250, 500, 750, 1000):
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(s):.1f}" y2="{y(s):.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y(s) + 4:.1f}" text-anchor="end" class="axis">{s}</text>')
    n = len(history)
    if n:
        def x(i: int) -> float:
            return left + (pw / 2 if n == 1 else pw * i / (n - 1))

        pts = " ".join(f"{x(i):.1f},{y(float(h['score'])):.1f}" for i, h in enumerate(history))
        if n > 1:
            parts.append(f'<polyline points="{pts}" class="line"/>')
        step = max(1, n // 8)
        for i, h in enumerate(history):
            color = GRADE_COLORS.get(h["grade"], "#555")
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(float(h["score"])):.1f}" r="4" fill="{color}">'
                         f'<title>{escape(_fmt(h["as_of"]))}：{escape(_fmt(h["score"]))} 分，'
                         f'{escape(h["grade"])} 级</title></circle>')
            if i % step == 0 or i == n - 1:
                parts.append(f'<text x="{x(i):.1f}" y="{height - 12}" text-anchor="middle" class="axis">'
                             f'{escape(_fmt(h["as_of"]))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _breakdown(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    dims: dict[str, dict[str, Any]] = {}
    for c in components:
        d = dims.setdefault(c["dimension"], {"dimension": c["dimension"], "code": c.get("dimension_code"),
                                             "points": 0.0, "base": 0.0, "indicators": []})
        pts = float(c["points"] or 0)
        d["points"] += pts
        if c["indicator"] == "_base":
            d["base"] = pts
        else:
            d["indicators"].append({**c, "points": pts})
    scale = max([abs(i["points"]) for d in dims.values() for i in d["indicators"]] + [1.0])
    for d in dims.values():
        for i in d["indicators"]:
            i["bar"] = round(100 * abs(i["points"]) / scale, 1)
    return list(dims.values())


def subject_report_data(con: Any, query: str, as_of: str | dt.date | None = None) -> dict[str, Any]:
    """Everything the report shows, as plain data (raises SubjectNotFound)."""
    res = lookup(con, query, as_of)
    if not res["found"]:
        raise SubjectNotFound(res)
    sid = res["subject"]["subject_id"]
    grade = res["grade"]
    cut = str(grade["as_of"]) if grade else (str(as_of) if as_of else None)
    history = _rows(con, """select as_of, score, grade, score_grade, override_applied, grade_reason,
                                   model_version, evaluated_at
                            from marts.credit_grades
                            where subject_id = ? and (? is null or as_of <= cast(? as date))
                            order by as_of""", [sid, cut, cut])
    components = []
    if grade:
        components = _rows(con, """select dimension, dimension_code, indicator, indicator_name, value, points
                                   from marts.score_components where subject_id = ? and as_of = ?
                                   order by dimension_code, indicator = '_base' desc, abs(points) desc, indicator""",
                           [sid, grade["as_of"]])
    records = _rows(con, """select record_id, category, department_code, record_no, decided_on, severity,
                                   attribute, publicity_until, removed_on, repaired_on, is_public, is_active,
                                   is_scoring, is_repaired, under_objection, record_state, source_file,
                                   source_row, as_of
                            from marts.credit_records where subject_id = ?
                            order by is_public desc, decided_on desc, record_id""", [sid])
    if _table_exists(con, "intermediate", "int_repairs"):
        repairs = _rows(con, """select repaired_category as category, repaired_record_no as record_no,
                                       repair_way, repaired_on, decided_by, source_file, source_row
                                from intermediate.int_repairs
                                where subject_id = ? and is_current and (? is null or repaired_on <= cast(? as date))
                                order by repaired_on desc""", [sid, cut, cut])
    else:
        repairs = [{"category": r["category"], "record_no": r["record_no"], "repair_way": None,
                    "repaired_on": r["repaired_on"], "decided_by": None, "source_file": r["source_file"],
                    "source_row": r["source_row"]} for r in records if r["is_repaired"]]
    if _table_exists(con, "intermediate", "int_objections"):
        objections = _rows(con, """select objection_no, objected_category as category,
                                          objected_record_no as record_no, raised_on, status, outcome,
                                          closed_on, source_file, source_row
                                   from intermediate.int_objections
                                   where subject_id = ? and is_current and (? is null or raised_on <= cast(? as date))
                                   order by raised_on desc""", [sid, cut, cut])
    else:
        objections = [{"objection_no": None, "category": r["category"], "record_no": r["record_no"],
                       "raised_on": None, "status": "处理中" if r["under_objection"] else r["record_state"],
                       "outcome": None, "closed_on": None, "source_file": r["source_file"],
                       "source_row": r["source_row"]}
                      for r in records if r["under_objection"] or r["record_state"] == "异议撤销"]
    thresholds = _thresholds(con, grade["model_version"] if grade else None)
    return {"lookup": res, "subject": res["subject"], "grade": grade, "history": history,
            "components": components, "dimensions": _breakdown(components),
            "records": records, "public_records": [r for r in records if r["is_public"]],
            "repairs": repairs, "objections": objections, "thresholds": thresholds}


def render_subject_report(data: dict[str, Any], generated_at: dt.datetime | None = None) -> str:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "j2"]))
    env.filters["f"] = _fmt
    env.filters["cat"] = lambda c: CATEGORY_NAMES_ALL.get(c, c or "—")
    tpl = env.get_template("subject_report.html.j2")
    return tpl.render(**data, grade_names=GRADE_NAMES, grade_colors=GRADE_COLORS,
                      chart=history_svg(data["history"], data["thresholds"]),
                      generated_at=(generated_at or dt.datetime.now()).strftime("%Y-%m-%d %H:%M"))


def write_subject_report(con: Any, query: str, out_dir: str | Path,
                         as_of: str | dt.date | None = None) -> Path:
    """Write ``<out_dir>/<subject_id>.html`` for the subject ``query`` names; return its path."""
    data = subject_report_data(con, query, as_of)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{data['subject']['subject_id']}.html"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render_subject_report(data), encoding="utf-8")
    tmp.replace(path)
    return path


def subject_report_main(query: str, as_of: str | dt.date | None = None, paths: Paths | None = None) -> Path:
    """`credit report CODE [--as-of D]`: read-only connection, writes to reports/subjects/."""
    import duckdb

    paths = paths or Paths.from_env()
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        return write_subject_report(con, query, paths.reports / "subjects", as_of)


__all__ = ["write_subject_report", "subject_report_data", "render_subject_report", "subject_report_main",
           "history_svg", "SubjectNotFound"]
