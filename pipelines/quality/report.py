"""Self-contained HTML data-quality report (inline CSS, inline SVG, no network requests).

``write_report(data_dir, con, catalogue, as_of)`` writes
``reports/quality/<as_of>/index.html``, ``scorecard.json`` and one masked
``rejected_<department>.csv`` (UTF-8 with BOM) per department, then rebuilds the history
index ``reports/quality/index.html`` from every ``*/scorecard.json``.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from ..catalogue import Catalogue
from .scorecard import (
    DIMENSION_LABELS,
    DIMENSIONS,
    Scorecard,
    compute_scorecard,
    rejected_rows_frames,
)

RATE_LABELS = {
    "score": "综合得分",
    "rejection_rate": "退回率",
    "late_share": "超期报送占比",
    "avg_lag": "平均报送时长（工作日）",
    "duplicate_share": "重复/被覆盖占比",
    "repaired_share": "代码已修复占比",
    "unresolved_share": "代码无法确认占比",
    "unknown_share": "库外主体占比",
    "conflict_share": "涉及重码/多码占比",
    **DIMENSION_LABELS,
}
STATUS_LABELS = {"loaded": "已入库", "duplicate_file": "重复文件", "rejected_file": "整个文件退回"}


def quality_dir(data_dir: Path | str) -> Path:
    return Path(data_dir) / "reports" / "quality"


def _pct(v: float | None, digits: int = 1) -> str:
    return "—" if v is None else f"{v * 100:.{digits}f}%"


def _num(v: float | None, digits: int = 1) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _tone(v: float | None, good: float = 0.95, fair: float = 0.8) -> str:
    if v is None:
        return "na"
    return "good" if v >= good else ("fair" if v >= fair else "poor")


def _score_tone(v: float | None) -> str:
    return _tone(None if v is None else v / 100, 0.85, 0.6)


# --------------------------------------------------------------------------- SVG charts


def svg_bars(items: list[tuple[str, float | None]], width: int = 640, max_value: float = 100.0) -> Markup:
    """Horizontal bars (label, value 0..max_value)."""
    row, left, right = 30, 150, 60
    h = row * max(len(items), 1) + 10
    inner = width - left - right
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {h}" width="100%" role="img" aria-label="部门综合得分">']
    for x in (0, 0.6, 0.85, 1.0):
        gx = left + inner * x
        out.append(f'<line x1="{gx:.1f}" y1="0" x2="{gx:.1f}" y2="{h - 10}" class="grid"/>')
    for i, (label, v) in enumerate(items):
        y = i * row + 6
        out.append(f'<text x="{left - 8}" y="{y + 15}" class="lbl" text-anchor="end">{html.escape(label)}</text>')
        if v is None:
            out.append(f'<text x="{left + 4}" y="{y + 15}" class="val">无数据</text>')
            continue
        w = max(inner * min(v, max_value) / max_value, 1)
        out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="20" rx="3" class="bar {_score_tone(v)}"/>')
        out.append(f'<text x="{left + w + 6:.1f}" y="{y + 15}" class="val">{v:.1f}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def svg_trend(points: list[tuple[str, dict[str, float | None]]], series: list[str], width: int = 640, height: int = 200) -> Markup:
    """Lines of 0..1 ratios over batches (one line per series)."""
    left, right, top, bottom = 44, 16, 14, 44
    inner_w, inner_h = width - left - right, height - top - bottom
    n = len(points)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="按批次趋势">']
    for t in (0, 0.5, 0.8, 1.0):
        y = top + inner_h * (1 - t)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">{int(t * 100)}%</text>')

    def x_of(i: int) -> float:
        return left + (inner_w / 2 if n == 1 else inner_w * i / (n - 1))

    for i, (label, _) in enumerate(points):
        if n <= 12 or i % max(1, n // 12) == 0:
            out.append(f'<text x="{x_of(i):.1f}" y="{height - bottom + 16}" class="axis" text-anchor="middle">{html.escape(label)}</text>')
    for k, s in enumerate(series):
        pts = [(x_of(i), top + inner_h * (1 - v[s])) for i, (_, v) in enumerate(points) if v.get(s) is not None]
        if not pts:
            continue
        if len(pts) > 1:
            out.append(f'<polyline class="line s{k}" points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in pts)}"/>')
        out += [f'<circle class="dot s{k}" cx="{x:.1f}" cy="{y:.1f}" r="3"/>' for x, y in pts]
    lx = left
    for k, s in enumerate(series):
        out.append(f'<rect x="{lx}" y="{height - 16}" width="10" height="10" class="key s{k}"/>'
                   f'<text x="{lx + 14}" y="{height - 7}" class="axis">{html.escape(DIMENSION_LABELS.get(s, s))}</text>')
        lx += 80
    out.append("</svg>")
    return Markup("".join(out))


# --------------------------------------------------------------------------- rendering


def _env() -> Environment:
    env = Environment(loader=PackageLoader("pipelines.quality", "templates"), autoescape=select_autoescape(["html", "j2"]))
    env.filters.update(pct=_pct, num=_num, tone=_tone, score_tone=_score_tone)
    env.globals.update(DIMENSIONS=DIMENSIONS, DIM=DIMENSION_LABELS, RATE=RATE_LABELS, STATUS=STATUS_LABELS)
    return env


def _rel(target: Path, start: Path) -> str:
    return os.path.relpath(target, start).replace(os.sep, "/")


def render_report(sc: Scorecard, out_dir: Path, docs_index: Path | None) -> str:
    deps = sc.departments
    bars = svg_bars([(f"{d['name']}", d["score"]) for d in deps])
    trends = {
        d["code"]: svg_trend([(t["batch"] or "", t["dims"]) for t in d["trend"]], ["completeness", "validity", "timeliness", "uniqueness"])
        for d in deps
    }
    files = sc.files.copy()
    files["batch_date"] = files["batch_date"].astype(str)
    from .masking import mask_ids

    files["source_file"] = files["source_file"].map(mask_ids)
    files = files.astype(object).where(files.notna(), None)
    files_by_dep = {code: g.to_dict("records") for code, g in files.groupby("department_code")}
    docs_link = _rel(docs_index, out_dir) if docs_index is not None and docs_index.exists() else None
    return _env().get_template("report.html.j2").render(
        sc=sc, deps=deps, bars=bars, trends=trends, files_by_dep=files_by_dep, docs_link=docs_link,
    )


def _history(qdir: Path, limit: int) -> list[dict[str, Any]]:
    out = []
    for p in sorted(qdir.glob("*/scorecard.json"), reverse=True)[:limit]:
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except ValueError:
            continue
        data["href"] = f"{p.parent.name}/index.html"
        out.append(data)
    return out


def write_history_index(data_dir: Path | str, limit: int = 60) -> Path:
    qdir = quality_dir(data_dir)
    qdir.mkdir(parents=True, exist_ok=True)
    hist = _history(qdir, limit)
    chrono = list(reversed(hist))
    chart = svg_trend([(h["as_of"], {"score": (h["overall"].get("score") or 0) / 100 if h["overall"].get("score") is not None else None,
                                     **h["overall"]["dims"]}) for h in chrono], ["completeness", "validity", "timeliness", "uniqueness"])
    page = _env().get_template("index.html.j2").render(history=hist, chart=chart, generated_at=dt.datetime.now().isoformat(timespec="seconds"))
    path = qdir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """``frame`` as CSV for Excel (UTF-8 with BOM, a header row, quotes only where a value
    needs them: a comma, quote or line break), by Polars — twice as fast as pandas for the
    71,000 rejected rows at 1M subjects. Dates as YYYY-MM-DD; a missing value and an empty
    string both as an empty field (as pandas writes them)."""
    import polars as pl

    out = pl.from_pandas(frame)
    out = out.with_columns(
        *(pl.col(c).dt.strftime("%Y-%m-%d") for c, t in out.schema.items() if t == pl.Date or t == pl.Datetime),
        *(pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c)
          for c, t in out.schema.items() if t == pl.String),
    )
    out.write_csv(path, include_bom=True)


def write_report(data_dir: Path | str, con, catalogue: Catalogue, as_of: dt.date | None = None,
                 docs_index: Path | None = None, scorecard: Scorecard | None = None, *,
                 rejected_state: Path | str | None = None, full: bool = False) -> dict[str, Any]:
    """Compute (unless given) the scorecard and write the report, CSVs and history index.
    ``rejected_state`` / ``full``: see :func:`rejected_rows_frames` (the same CSVs)."""
    data_dir = Path(data_dir)
    sc = scorecard or compute_scorecard(con, catalogue, as_of)
    out_dir = quality_dir(data_dir) / sc.as_of.isoformat()
    out_dir.mkdir(parents=True, exist_ok=True)
    csvs = []
    saving: list = []  # the rejected rows' state, written while the CSVs are
    try:
        frames = rejected_rows_frames(con, catalogue, [d["code"] for d in sc.departments], rejected_state,
                                      full=full, saving=saving)
        for d in sc.departments:
            frame = frames[d["code"]]
            path = out_dir / d["rejected_csv"]
            write_csv(frame, path)
            d["rejected_rows"] = len(frame)
            csvs.append(path)
    finally:
        for future in saving:
            future.result()
    if docs_index is None:
        from .gx_suites import docs_index as _docs

        docs_index = _docs(data_dir)
    html_text = render_report(sc, out_dir, docs_index)
    report = out_dir / "index.html"
    report.write_text(html_text, encoding="utf-8")
    (out_dir / "scorecard.json").write_text(json.dumps(sc.to_json(), ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    limit = int(((catalogue.settings.get("quality") or {}).get("report") or {}).get("history", 60))
    index = write_history_index(data_dir, limit)
    return {"report": report, "index": index, "csvs": csvs, "scorecard": sc}
