"""Department extracts (一公开 and the scheduled push): for a department and an
evaluation date, ``exports/<department>/<as_of>/`` with

- ``grades.*``            the grade list of the department's supervision scope
- ``inspection_draw.*``   its published 双随机 draw for the period (may be empty)
- ``code_corrections.*``  its code-correction list (重错码 feedback; may be empty)

each in CSV (UTF-8 with BOM, CRLF — opens in Excel on Chinese Windows), XLSX (code
columns as text) and Parquet, and ``manifest.json`` (files, rows, sha256, as_of,
model_version). Cells are made safe (``safe.py``: ID numbers masked, formulas
neutralised). The folder is written aside and renamed into place, so a half-written
extract is never visible, and a re-run for the same as_of writes byte-identical files
(fixed row order, fixed XLSX properties, no timestamps)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pyarrow.parquet as pq

from pipelines.catalogue import load_catalogue
from pipelines.settings import Paths

from . import publish, xlsx
from .safe import safe_frame

FIXED_CREATED = dt.datetime(2000, 1, 1, 0, 0, 0)
FORMATS = ("csv", "xlsx", "parquet")

GRADE_COLUMNS = {  # source column -> header
    "uscc": "统一社会信用代码", "name": "主体名称", "grade": "信用等级", "score": "综合评价得分",
    "grade_reason": "评级理由", "model_version": "评价模型版本", "evaluated_on": "评价日期",
    "subject_id": "主体标识", "subject_kind": "主体类别", "region_code": "行政区划代码",
    "industry_code": "行业代码", "status": "登记状态", "scope_rules": "监管范围依据",
    "in_pool": "纳入检查对象名录", "eligible": "本期可抽取", "exclusion_reason": "不可抽取原因",
    "draw_key": "抽签值",
}
DRAW_COLUMNS = {
    "period": "抽查期次", "version": "抽查版本", "grade": "信用等级", "draw_rank": "抽签序号",
    "uscc": "统一社会信用代码", "subject_id": "主体标识", "name": "主体名称", "draw_key": "抽签值",
    "inspector_1": "检查人员1（姓名及执法证号）", "inspector_2": "检查人员2（姓名及执法证号）",
    "seed": "随机种子",
}
# The codes stage's headers (pipelines.codes.resolve.FEEDBACK_HEADERS); also used to
# label an English-keyed list and the empty list when that stage is not available.
CORRECTION_COLUMNS = {
    "original_value": "原始代码", "suggested": "建议代码", "resolved_uscc": "建议代码",
    "problem": "问题类型", "method_label": "处理方法", "method": "处理方法", "confidence": "置信度",
    "source_file": "来源文件", "source_row": "行号", "field_label": "字段", "field": "字段",
    "status": "状态", "category": "信息类别",
}
DEFAULT_CORRECTION_HEADERS = ["原始代码", "建议代码", "问题类型", "处理方法", "置信度", "来源文件", "行号", "字段"]
SHEET_NAMES = {"grades": "信用等级", "inspection_draw": "双随机抽查名单", "code_corrections": "代码纠错清单"}


@dataclass(frozen=True)
class ExtractResult:
    department_code: str
    as_of: str
    path: Path
    manifest: dict[str, Any]
    draw: publish.PublishedDraw | None
    written: bool = True           # False: the extract in place already had this content


# Bump when the files written for the same content change (writers, headers, formats):
# an extract in place with another version is written again.
EXTRACT_FORMAT_VERSION = 1


def content_digest(datasets: dict[str, pl.DataFrame], head: dict[str, Any]) -> str:
    """What an extract's files are made from: the manifest's head (as_of, model version,
    period, draw version, seed, plan), every dataset's columns, types and rows in order
    (a 64-bit hash per row with its position, summed), the polars version and
    EXTRACT_FORMAT_VERSION. The same digest means the same files."""
    h = hashlib.sha256(json.dumps({"head": head, "format": EXTRACT_FORMAT_VERSION, "polars": pl.__version__},
                                  ensure_ascii=False, sort_keys=True, default=str).encode())
    for name, df in datasets.items():
        h.update(json.dumps([name, df.height, df.columns, [str(t) for t in df.dtypes]], ensure_ascii=False).encode())
        if df.height:
            rows = df.with_row_index("_position").hash_rows(seed=0)
            h.update(int(rows.to_numpy().sum(dtype=np.uint64)).to_bytes(8, "little"))
    return h.hexdigest()


def _unchanged(folder: Path, digest: str) -> dict[str, Any] | None:
    """The manifest of the extract in ``folder`` when it was written from content with
    this digest and its files are all there, whole (sizes as recorded); else None."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("content_digest") != digest:
        return None
    for f in manifest.get("files", []):
        path = folder / f["name"]
        if not path.is_file() or path.stat().st_size != f["bytes"]:
            return None
    return manifest


# -- data ---------------------------------------------------------------------------

def resolve_as_of(con: duckdb.DuckDBPyConnection, as_of: str | dt.date | None) -> str:
    if as_of:
        return as_of.isoformat() if isinstance(as_of, dt.date) else str(as_of)
    # The evaluation the marts were last built for (credit_grades keeps history: last).
    for table in ("sampling_candidates", "subjects", "credit_grades"):
        try:
            value = con.execute(f"select max(as_of) from marts.{table}").fetchall()[0][0]
        except duckdb.CatalogException:
            continue
        if value is not None:
            return value.isoformat()
    raise ValueError("no evaluation in the marts: run the evaluation first")


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> pl.DataFrame:
    return pl.from_arrow(con.sql(sql, params=params).to_arrow_table())


def grade_list(con: duckdb.DuckDBPyConnection, department_code: str, as_of: str) -> pl.DataFrame:
    cand_as_of = con.execute("select max(as_of) from marts.sampling_candidates").fetchall()[0][0]
    if cand_as_of is not None and cand_as_of.isoformat() != as_of:
        raise ValueError(f"marts.sampling_candidates is as of {cand_as_of}, not {as_of}: rebuild the marts")
    df = _frame(con, """
        select c.uscc, c.name, g.grade, round(g.score, 2) as score, g.grade_reason, g.model_version,
               cast(g.as_of as varchar) as evaluated_on, c.subject_id, c.subject_kind, c.region_code,
               c.industry_code, c.status, c.scope_rules,
               case when c.in_pool then '是' else '否' end as in_pool,
               case when not c.draws then null when c.is_eligible then '是' else '否' end as eligible,
               c.exclusion_reason,
               case when c.draws then c.draw_key end as draw_key
        from marts.sampling_candidates as c
        left join marts.credit_grades as g on g.subject_id = c.subject_id and g.as_of = cast(? as date)
        where c.department_code = ?
        order by c.subject_id""", [as_of, department_code])
    return df.rename(GRADE_COLUMNS)


def draw_list(con: duckdb.DuckDBPyConnection, department_code: str,
              draw: publish.PublishedDraw | None) -> pl.DataFrame:
    sql = """
        select period, version, grade, draw_rank, uscc, subject_id, name, draw_key,
               inspector_1, inspector_2, seed
        from deliver.published_draw_rows
        where department_code = ? and period = ? and version = ?
        order by grade, draw_rank, subject_id"""
    if draw is None:
        publish.ensure_tables(con)
        df = _frame(con, sql, [department_code, "", -1])
    else:
        df = _frame(con, sql, [department_code, draw.period, draw.version])
    return df.rename(DRAW_COLUMNS)


def plan_rows(con: duckdb.DuckDBPyConnection, department_code: str) -> list[dict[str, Any]]:
    cur = con.execute("""
        select grade, population, eligible, cast(ratio as varchar) as ratio,
               minimum_per_stratum as minimum, sample_size
        from marts.sampling_plan where department_code = ? order by grade""", [department_code])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _default_feedback() -> Callable[[duckdb.DuckDBPyConnection, str], Any] | None:
    try:
        from pipelines.codes.resolve import department_feedback  # the codes engineer's
    except Exception:  # not built yet (or broken): an empty list with the right headers
        return None
    return department_feedback


def correction_list(con: duckdb.DuckDBPyConnection, department_code: str,
                    feedback: Callable[[duckdb.DuckDBPyConnection, str], Any] | None = None) -> pl.DataFrame:
    fn = feedback or _default_feedback()
    data = fn(con, department_code) if fn is not None else None
    if data is None:
        df = pl.DataFrame(schema={c: pl.Utf8 for c in DEFAULT_CORRECTION_HEADERS})
    elif isinstance(data, pl.DataFrame):
        df = data
    elif hasattr(data, "to_arrow_table"):
        df = pl.from_arrow(data.to_arrow_table())
    elif hasattr(data, "schema") and hasattr(data, "num_rows"):
        df = pl.from_arrow(data)
    elif hasattr(data, "to_dict") and hasattr(data, "columns"):  # pandas
        df = pl.from_pandas(data)
    else:
        df = pl.DataFrame(list(data), infer_schema_length=None)
    df = df.rename({c: CORRECTION_COLUMNS[c] for c in df.columns if c in CORRECTION_COLUMNS})
    order = [c for c in ("来源文件", "行号", "字段") if c in df.columns]
    if df.height and order:  # a deterministic order whatever the provider did
        df = df.sort(order, maintain_order=True, nulls_last=True)
    return df


# -- writers ------------------------------------------------------------------------

def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, float):
        return f"{v:.6f}".rstrip("0").rstrip(".")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _as_text(df: pl.DataFrame) -> pl.DataFrame:
    """Every column as the text :func:`_cell_text` gives, vectorised (polars)."""
    exprs = []
    for c, t in df.schema.items():
        col = pl.col(c)
        if t == pl.Boolean:
            e = pl.when(col).then(pl.lit("是")).otherwise(pl.lit("否"))
        elif t.is_float():
            e = col.round(6).cast(pl.Utf8).str.replace(r"\.0$", "")
        else:
            e = col.cast(pl.Utf8)
        exprs.append(pl.when(col.is_null()).then(pl.lit("")).otherwise(e).alias(c))
    return df.select(exprs)


def write_csv(df: pl.DataFrame, path: Path) -> None:
    """UTF-8 with BOM (Excel on Chinese Windows), CRLF, RFC 4180 quoting."""
    _as_text(df).write_csv(path, include_bom=True, line_terminator="\r\n", quote_style="necessary")


XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit, less the header row


def write_xlsx(df: pl.DataFrame, path: Path, sheet: str) -> None:
    """Codes as text; a list longer than one Excel sheet continues on sheets 2, 3 …
    (``xlsx.write_xlsx``: the worksheet XML built by polars, a chunk of rows at a time)."""
    xlsx.write_xlsx(df, path, sheet, max_rows=XLSX_MAX_ROWS, created=FIXED_CREATED, author="信用办")


def write_parquet(df: pl.DataFrame, path: Path) -> None:
    pq.write_table(df.to_arrow(), str(path), compression="zstd", write_statistics=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _swap_into_place(tmp: Path, final: Path) -> None:
    """Rename the finished folder into place; an earlier extract for the same as_of is
    moved aside first and removed after (readers see the old or the new, never a mix)."""
    old = None
    if final.exists():
        old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# -- the extract ----------------------------------------------------------------------

def write_department_extract(con: duckdb.DuckDBPyConnection, department_code: str,
                             as_of: str | dt.date | None = None, exports_dir: Path | None = None,
                             *, model_version: str | None = None, publish_draw: bool = True,
                             feedback: Callable[[duckdb.DuckDBPyConnection, str], Any] | None = None,
                             force: bool = False) -> ExtractResult:
    """Write ``<exports_dir>/<department_code>/<as_of>/``. Publishes the department's
    current draw first (``publish.publish_draw``: a no-op when unchanged). An extract
    already in place for the same content (``content_digest``, recorded in its manifest)
    is kept as it is — the files it would write are byte for byte those — unless
    ``force``."""
    as_of = resolve_as_of(con, as_of)
    exports_dir = Path(exports_dir) if exports_dir else Paths.from_env().exports
    if model_version is None:
        model_version = con.execute("select max(model_version) from marts.credit_grades where as_of = cast(? as date)",
                                    [as_of]).fetchall()[0][0]
    draw = publish.publish_draw(con, department_code) if publish_draw else None
    if draw is None and not publish_draw:
        period, _, _ = publish.current_period(con)
        last = publish.latest_version(con, department_code, period) if period else None
        if last:
            draw = publish.PublishedDraw(department_code, period, last["version"], last["rows"], "unchanged",
                                         last["inputs_fingerprint"], last["draw_fingerprint"], last["seed"])
    datasets = {
        "grades": safe_frame(grade_list(con, department_code, as_of)),
        "inspection_draw": safe_frame(draw_list(con, department_code, draw)),
        "code_corrections": safe_frame(correction_list(con, department_code, feedback)),
    }
    dept = load_catalogue().departments.get(department_code)
    head = {
        "department_code": department_code,
        "department_name": getattr(dept, "name", None),
        "as_of": as_of,
        "model_version": model_version,
        "period": draw.period if draw else publish.current_period(con)[0],
        "draw_version": draw.version if draw else None,
        "seed": draw.seed if draw else None,
        "plan": plan_rows(con, department_code),
    }
    digest = content_digest(datasets, head)
    dept_dir = exports_dir / department_code
    in_place = None if force else _unchanged(dept_dir / as_of, digest)
    if in_place is not None:
        return ExtractResult(department_code, as_of, dept_dir / as_of, in_place, draw, written=False)
    dept_dir.mkdir(parents=True, exist_ok=True)
    tmp = dept_dir / f".{as_of}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        files = []
        for name, df in datasets.items():
            for fmt in FORMATS:
                path = tmp / f"{name}.{fmt}"
                if fmt == "csv":
                    write_csv(df, path)
                elif fmt == "xlsx":
                    write_xlsx(df, path, SHEET_NAMES[name])
                else:
                    write_parquet(df, path)
                files.append({"name": path.name, "dataset": name, "format": fmt, "rows": df.height,
                              "bytes": path.stat().st_size, "sha256": _sha256(path)})
        manifest = {**head, "files": files, "content_digest": digest}
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                           encoding="utf-8", newline="\n")
        _swap_into_place(tmp, dept_dir / as_of)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ExtractResult(department_code, as_of, dept_dir / as_of, manifest, draw)


def department_codes() -> list[str]:
    return list(load_catalogue().departments)


def write_all_extracts(con: duckdb.DuckDBPyConnection, as_of: str | dt.date | None = None,
                       exports_dir: Path | None = None) -> list[ExtractResult]:
    return [write_department_extract(con, d, as_of, exports_dir) for d in department_codes()]
