"""Validation documentation with great-expectations, generated from the catalogue.

One expectation suite per category, built from the same ``Category.fields`` the pandera
schemas come from: columns exist, required not null, conditionally required not null
(``required_when``, as a row condition), enum values in set, enum lists well formed,
dates between ``ingest.dates.earliest`` and the delivery date, ``not_before`` ordering,
money / int bounds, code formats, record-key uniqueness.

``run_validations`` validates each delivered file (one ``audit.loads`` row) *as
delivered*: its loaded rows from ``raw.<category>`` plus its rejected rows from
``audit.rejected_rows`` (the raw JSON mapped back to catalogue fields), so the Data Docs
show what arrived, errors included. Personal values are masked before GX ever sees them.

The context is a FILE context under ``$CREDIT_DATA_DIR/reports/gx`` with analytics off;
dataframes are given to GX as pandas frames (batch parameter ``dataframe``).

Offline Data Docs: GX 1.24 page templates load Bootstrap, jQuery, bootstrap-table,
Font Awesome and Vega from public CDNs (cdn.jsdelivr.net, cdnjs, unpkg, stackpath,
maxcdn, code.jquery.com). ``make_docs_offline`` removes those tags from every generated
page and inlines a small local stylesheet, so the site opens from local files with zero
network requests (tables are static; the CDN-only interactive filters are lost).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import time
import unicodedata
import warnings
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from ..catalogue import Catalogue, Category, Field
from ..textnorm import normalize_header
from .masking import mask_ids, mask_ids_expr, mask_personal_expr, py_chars, py_class

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

log = logging.getLogger(__name__)

DATASOURCE = "warehouse"
BATCH_DEFINITION = "delivered_file"
_CODE_PATTERNS = {
    "uscc": r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$",
    "reg_no": r"^\d{15}$",
    "org_code": r"^[0-9A-Z]{8}-?[0-9X]$",
    "region": r"^\d{6}$",
    "industry": r"^[A-T](\d{2,4})?$",
}


def gx_root(data_dir: Path | str) -> Path:
    return Path(data_dir) / "reports" / "gx"


def docs_index(data_dir: Path | str) -> Path:
    return gx_root(data_dir) / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def _settings(catalogue: Catalogue) -> dict[str, Any]:
    try:
        return dict(catalogue.setting("quality.gx") or {})
    except KeyError:
        return {}


def _earliest(catalogue: Catalogue) -> dt.datetime:
    """The earliest acceptable date, as UTC midnight (the dates GX compares it with are
    UTC midnights too: see :func:`gx_frame`)."""
    try:
        day = dt.datetime.fromisoformat(str(catalogue.setting("ingest.dates.earliest")))
    except KeyError:
        day = dt.datetime(1949, 10, 1)
    return day.replace(tzinfo=dt.UTC)


def _as_utc(day: pd.Timestamp) -> dt.datetime:
    """A batch date as the UTC midnight GX compares the date columns with."""
    day = pd.Timestamp(day)
    return (day.tz_convert("UTC") if day.tzinfo else day.tz_localize("UTC")).to_pydatetime()


def _when_column(f: Field) -> str:
    return f"_when_{f.name}"


# --------------------------------------------------------------------------- suites


def build_suite(category: Category, catalogue: Catalogue):
    """The expectation suite of a category, from the catalogue only."""
    import great_expectations as gx
    from great_expectations.expectations.row_conditions import Column

    E = gx.expectations
    # Collected first, the suite made once at the end: ExpectationSuite.add_expectation
    # writes the whole suite to the store on every call when a suite of that name was
    # saved before (every run after the first) — quadratic, seconds per category.
    expectations: list[Any] = []

    def add(exp, note: str) -> None:
        exp.meta = {"notes": note}
        expectations.append(exp)

    earliest = _earliest(catalogue)
    try:
        suspicious = float(catalogue.setting("ingest.money.suspicious_above"))
    except KeyError:
        suspicious = None
    add(E.ExpectTableRowCountToBeBetween(min_value=1), "文件至少包含一行数据")
    for f in category.fields:
        label = f"{f.label}（{f.name}）"
        add(E.ExpectColumnToExist(column=f.name), f"{label}：目录字段")
        if f.required:
            add(E.ExpectColumnValuesToNotBeNull(column=f.name), f"{label}：必填")
        elif f.required_when:
            cond = "、".join(f.required_when.in_)
            unless = f"（已填 {'、'.join(f.unless_any)} 时除外）" if f.unless_any else ""
            add(
                E.ExpectColumnValuesToNotBeNull(column=f.name, row_condition=Column(_when_column(f)) == "Y"),
                f"{label}：当{category.by_name[f.required_when.field].label}为{cond}时必填{unless}",
            )
        if f.type == "enum" and f.enum:
            add(E.ExpectColumnValuesToBeInSet(column=f.name, value_set=list(f.enum)),
                f"{label}：取值须为 {' / '.join(f.enum)}")
        elif f.type == "enum_list" and f.enum:
            alt = "|".join(re.escape(v) for v in f.enum)
            add(E.ExpectColumnValuesToMatchRegex(column=f.name, regex=f"^({alt})(;({alt}))*$"),
                f"{label}：一个或多个取值（{' / '.join(f.enum)}）")
        elif f.type == "date":
            kwargs: dict[str, Any] = {"min_value": earliest}
            note = f"{label}：不早于 {earliest.date()}"
            if f.not_future:
                kwargs["max_value"] = {"$PARAMETER": "batch_date"}
                note += "，不晚于报送日期"
            add(E.ExpectColumnValuesToBeBetween(column=f.name, **kwargs), note)
            if f.not_before:
                other = category.by_name[f.not_before]
                add(
                    E.ExpectColumnPairValuesAToBeGreaterThanB(
                        column_A=f.name, column_B=f.not_before, or_equal=True,
                        ignore_row_if="either_value_is_missing",
                    ),
                    f"{label}：不早于{other.label}",
                )
        elif f.type in ("money", "int"):
            mx = f.max
            if f.min is not None or mx is not None:
                kwargs = {}
                if f.min is not None:
                    kwargs["min_value"] = f.min
                if mx == "current_year":
                    kwargs["max_value"] = {"$PARAMETER": "current_year"}
                elif mx is not None:
                    kwargs["max_value"] = mx
                add(E.ExpectColumnValuesToBeBetween(column=f.name, **kwargs),
                    f"{label}：取值范围 {kwargs.get('min_value', '')} – {'当年' if mx == 'current_year' else kwargs.get('max_value', '')}")
            if f.type == "money" and suspicious is not None:
                add(E.ExpectColumnValuesToBeBetween(column=f.name, max_value=suspicious, severity="warning"),
                    f"{label}：单位为万元，超过 {suspicious:g} 万元疑似按元填报（警告）")
        elif f.type == "code" and f.code_kind in _CODE_PATTERNS and not f.personal:
            add(E.ExpectColumnValuesToMatchRegex(column=f.name, regex=_CODE_PATTERNS[f.code_kind],
                                                 severity="critical" if f.must_be_valid else "warning"),
                f"{label}：{f.code_kind} 代码格式" + ("（必须有效）" if f.must_be_valid else "（由重错码治理修复，警告）"))
    key = [k for k in category.record_key if k in category.by_name]
    if len(key) == 1:
        add(E.ExpectColumnValuesToBeUnique(column=key[0], severity="warning"),
            f"记录主键（{category.by_name[key[0]].label}）在文件内唯一（重复即后者覆盖前者，警告）")
    elif key:
        add(E.ExpectCompoundColumnsToBeUnique(column_list=key, severity="warning"),
            "记录主键（" + "、".join(category.by_name[k].label for k in key) + "）在文件内唯一（重复即后者覆盖前者，警告）")
    return gx.ExpectationSuite(
        name=category.id,
        expectations=expectations,
        meta={"category": category.id, "category_name": category.name, "catalogue_version": catalogue.version,
              "notes": f"{category.name}（{category.id}）：由信息采集目录 v{catalogue.version} 自动生成"},
    )


# --------------------------------------------------------------------------- frames
#
# Columnar throughout: DuckDB reads a file's loaded rows and unpacks its rejected rows'
# JSON, polars parses, normalises and masks, and the frame becomes pandas only at the end
# (GX's pandas datasource takes a pandas DataFrame). The dtypes are what pandas inferred
# for the earlier row-by-row version, kept so GX sees the same frame: text columns are
# ``str`` (missing = NaN) or, when nothing in the file fills them, ``object`` of None;
# date columns ``datetime64[us]`` when a loaded (DuckDB DATE) value is present, else
# ``datetime64[s]``; money / int ``float64``; ``_when_*`` ``str`` ("Y" / "N").

# Accepted date spellings, in Python ``re`` syntax (``\d`` / ``\s`` as Python reads them;
# :func:`_date_regex` restates them for polars): 2025-10-09, 2025/10/9, 2025.10.09,
# 2025年10月9日, 20251009. No match, or no such calendar day, is null.
_DATE_PATTERNS = (
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$",
    r"^(\d{4})(\d{2})(\d{2})$",
)
_LIST_SPLIT = r"[;；、,，]"
_OUTCOME = "_outcome"


def _is_text(f: Field) -> bool:
    return f.type not in ("date", "money", "int")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@cache
def _date_regex() -> str:
    """:data:`_DATE_PATTERNS` as one polars pattern (groups 1-3 or 4-6), for text whose
    digits are ASCII already (``\\d`` is then ``[0-9]``), ``\\s`` as the white space
    Python's ``re`` matches."""
    body = "|".join(p.removeprefix("^").removesuffix("$") for p in _DATE_PATTERNS)
    return "^(?:" + body.replace(r"\d", "[0-9]").replace(r"\s", f"[{py_class('space')}]") + ")$"


@cache
def _digit_map() -> tuple[list[str], list[str]]:
    digits = [c for c in py_chars("digit") if not "0" <= c <= "9"]
    return digits, [str(unicodedata.decimal(c)) for c in digits]


def parse_dates(text: pl.Series) -> pl.Series:
    """Text → ``Datetime("us")`` by :data:`_DATE_PATTERNS`, as Python's ``re`` and
    ``int()`` read them: stripped of white space, and any decimal digit (full-width,
    Arabic-Indic …) first mapped to its ASCII digit (one character for one, so what
    matches, and where, is unchanged)."""
    s = text.cast(pl.String).str.strip_chars(py_chars("space")).str.replace_many(*_digit_map())
    g = s.str.extract_groups(_date_regex()).struct.unnest()
    ymd = g.select(
        y=pl.coalesce("1", "4").cast(pl.Int32), m=pl.coalesce("2", "5").cast(pl.Int32),
        d=pl.coalesce("3", "6").cast(pl.Int32),
    )
    y, m, d = pl.col("y"), pl.col("m"), pl.col("d")
    ym_ok = (y >= 1) & m.is_between(1, 12)
    ymd = ymd.with_columns(
        first=pl.date(pl.when(ym_ok).then(y).otherwise(1), pl.when(ym_ok).then(m).otherwise(1), 1), ym_ok=ym_ok
    )
    first = pl.col("first")
    ok = pl.col("ym_ok") & d.is_between(1, first.dt.month_end().dt.day())
    return ymd.select(
        pl.when(ok).then(first.cast(pl.Datetime("us")) + pl.duration(days=d - 1)).alias(text.name)
    ).to_series()


def _as_date(s: pl.Series) -> pl.Series:
    if s.dtype == pl.Date or s.dtype == pl.Datetime:
        return s.cast(pl.Datetime("us"))
    return parse_dates(s)


def _as_number(s: pl.Series) -> pl.Series:
    """money / int as float64, NaN as null. Text is read by pandas' number parser
    (``pd.to_numeric``, one vectorised call) as before: what counts as a number stays."""
    if s.dtype == pl.String:
        values = pd.to_numeric(s.to_numpy(), errors="coerce").astype("float64")
        return pl.Series(s.name, values, nan_to_null=True)
    return s.cast(pl.Float64).fill_nan(None)


def _typed(category: Category, frame: pl.DataFrame) -> pl.DataFrame:
    """source_row, _outcome and every field, typed: Datetime("us") / Float64 / String."""
    cols = [frame["source_row"].cast(pl.Int64), frame[_OUTCOME].cast(pl.String)]
    for f in category.fields:
        if f.name in frame.columns:
            s = frame[f.name]
        else:  # a field no header of the rejected rows maps to
            s = pl.repeat(None, frame.height, dtype=pl.String, eager=True).alias(f.name)
        if f.type == "date":
            s = _as_date(s)
        elif f.type in ("money", "int"):
            s = _as_number(s)
        else:
            s = s.cast(pl.String)
        cols.append(s)
    return pl.DataFrame(cols)


def _loaded_rows(con, category: Category, source_file: str) -> pl.DataFrame | None:
    has_raw = con.execute(
        "select count(*) from information_schema.tables where table_schema='raw' and table_name=?",
        [category.id],
    ).fetchall()[0][0]
    if not has_raw:
        return None
    cols = ", ".join(_q(f.name) for f in category.fields)
    # Unordered: batch_frame sorts by source_row (unique among a file's loaded rows).
    rows = con.sql(
        f"select source_row, 'loaded' as {_OUTCOME}, {cols} from raw.{_q(category.id)} "
        "where source_file = ?",
        params=[source_file],
    ).pl()
    return _typed(category, rows)


def _rejected_rows(con, category: Category, source_file: str) -> tuple[pl.DataFrame, list[str]]:
    """audit.rejected_rows.raw (original headers) → canonical field columns, and the field
    names in the order they first appear in the JSON (the column order of a file with no
    loaded rows).

    A header maps to a field by ``category.header_map`` after ``normalize_header`` (done
    once per distinct header, not per row); in a row, of the headers that map to one
    field the first present wins, whatever its value. Values are stripped, empty → null;
    enum aliases are replaced and enum lists normalised to ``a;b``. Ingest writes every
    cell as a JSON string (readers return text); any other JSON value would be taken as
    its JSON text."""
    keys = con.execute(
        "select distinct unnest(json_keys(raw)) from audit.rejected_rows where source_file = ?",
        [source_file],
    ).fetchall()
    hmap = category.header_map
    mapped = [(k, hmap[normalize_header(k)]) for (k,) in keys if normalize_header(k) in hmap]
    # Per field: the least position (in the row's own key order) of its headers, and the
    # value under the header at that position. Headers are read by JSON pointer.
    cols: list[str] = []
    for name in dict.fromkeys(n for _, n in mapped):
        idx = [i for i, (_, n) in enumerate(mapped, start=1) if n == name]
        pos = "least(" + ", ".join(f"p{i}" for i in idx) + ")"
        pick = " ".join(f"when p{i} then v[{i}]" for i in idx)
        cols += [f"case {pos} {pick} end as {_q(name)}", f"{pos} as {_q('pos:' + name)}"]
    positions = "".join(f", list_position(keys, ?) as p{i}" for i in range(1, len(mapped) + 1))
    rows = con.sql(
        f"""with r as (
                select source_row, json_keys(raw) as keys, json_extract_string(raw, ?::varchar[]) as v
                from audit.rejected_rows where source_file = ?
            ), p as (select source_row, v{positions} from r)
            select source_row, 'rejected' as {_OUTCOME}{''.join(', ' + c for c in cols)}
            from p order by source_row""",
        params=[
            ["/" + k.replace("~", "~0").replace("/", "~1") for k, _ in mapped],
            source_file,
            *(k for k, _ in mapped),
        ],
    ).pl()
    # Column order of a frame built from the rows as records: by the first row holding
    # the field, then its position in that row.
    first: list[tuple[int, int, str]] = []
    for name in dict.fromkeys(n for _, n in mapped):
        pos = rows["pos:" + name]
        held = pos.is_not_null().arg_true()
        if len(held):
            first.append((held[0], pos[held[0]], name))
    spaces = py_chars("space")
    fixes = []
    for f in category.fields:
        if f.name not in rows.columns:
            continue
        v = pl.col(f.name).str.strip_chars(spaces)
        v = pl.when(v != "").then(v)
        if f.type == "enum" and f.enum_aliases:
            v = v.replace(list(f.enum_aliases), list(f.enum_aliases.values()))
        elif f.type == "enum_list":
            v = (
                v.str.replace_all(_LIST_SPLIT, ";").str.split(";")
                .list.eval(pl.element().str.strip_chars(spaces).filter(pl.element() != ""))
                .list.join(";")
            )
        fixes.append(v.alias(f.name))
    return _typed(category, rows.with_columns(fixes)), [n for *_, n in sorted(first)]


def _when_expr(category: Category, f: Field) -> pl.Expr:
    """``_when_<f>`` = "Y" where ``f`` is conditionally required: its target (an enum or
    an enum list ``a;b`` in every catalogue) holds one of the values and none of
    ``unless_any`` is filled; else "N"."""
    assert f.required_when is not None
    target = pl.col(f.required_when.field).cast(pl.String).str.split(";")
    hit = pl.lit(False)
    for v in f.required_when.in_:
        hit = hit | target.list.contains(pl.lit(v))
    hit = hit.fill_null(False)
    for other in f.unless_any:
        hit = hit & pl.col(other).is_null()
    return pl.when(hit).then(pl.lit("Y")).otherwise(pl.lit("N")).alias(_when_column(f))


def _to_pandas(frame: pl.DataFrame, category: Category, us_dates: set[str]) -> pd.DataFrame:
    """The dtypes described at the top of this section (``us_dates``: the date columns
    with a loaded value); an empty frame has ``object`` source_row / _outcome / text."""
    n = frame.height
    out: dict[str, Any] = {}
    for s in frame.iter_columns():
        f = category.by_name.get(s.name)
        if s.name == "source_row":
            out[s.name] = s.to_numpy() if n else np.empty(0, dtype=object)
        elif f is not None and f.type == "date":
            out[s.name] = s.to_pandas() if s.name in us_dates else s.to_pandas().astype("datetime64[s]")
        elif f is not None and f.type in ("money", "int"):
            out[s.name] = s.to_numpy()
        elif s.name.startswith("_when_"):
            out[s.name] = s.to_pandas()
        elif s.null_count() == n:  # nothing filled: object of None
            out[s.name] = np.full(n, None, dtype=object)
        else:
            out[s.name] = s.to_pandas()
    return pd.DataFrame(out)


def batch_frame(con, category: Category, source_file: str, batch_date: dt.date | None) -> pd.DataFrame:
    """The delivered rows of one file, loaded and rejected, masked, typed for GX."""
    fields = [f.name for f in category.fields]
    loaded = _loaded_rows(con, category, source_file)
    rejected, first_seen = _rejected_rows(con, category, source_file)
    parts = [p for p in (loaded, rejected) if p is not None and p.height]
    frame = pl.concat(parts) if parts else rejected
    # Columns: the loaded rows' (catalogue order); a file with only rejected rows has its
    # fields in the order the JSON names them, then the rest.
    if parts and parts[0] is rejected:
        fields = first_seen + [n for n in fields if n not in first_seen]
    whens = [_when_column(f) for f in category.fields if f.required_when]
    frame = (
        frame.lazy()
        .with_columns(
            (mask_personal_expr if f.personal else mask_ids_expr)(pl.col(f.name)).alias(f.name)
            for f in category.fields if _is_text(f)
        )
        .with_columns(_when_expr(category, f) for f in category.fields if f.required_when)
        .select("source_row", _OUTCOME, *fields, *whens)
        .sort("source_row", maintain_order=True)  # stable: loaded before rejected, as before
        .collect()
    )
    us_dates = {
        f.name for f in category.fields
        if f.type == "date" and loaded is not None and loaded[f.name].null_count() < loaded.height
    }
    return _to_pandas(frame, category, us_dates)


def gx_frame(frame: pd.DataFrame, categorical_max_share: float = 0.05) -> pd.DataFrame:
    """``frame`` (from :func:`batch_frame`) in the representation GX validates fast,
    same values, same results:

    - date columns as UTC midnights (``datetime64[..., UTC]``). GX 1.24 compares dates
      vectorised only when the dtype is ``datetime64[ns]`` or time-zone aware; our
      columns hold rejected typo years such as 1020, outside the ns range, and as naive
      ``us`` / ``s`` dates they were compared one Python value at a time (half of GX's
      time). The bounds are UTC midnights too (:func:`_earliest`, :func:`_as_utc`); Data
      Docs show such a value as ``1020-10-26 00:00:00+00:00``.
    - text columns with few distinct values (at most ``categorical_max_share`` of the
      rows, judged on a sample) as pandas categoricals: every column-map metric copies
      the whole frame (GX filters out the column's nulls first), and a categorical is
      copied as integer codes instead of its strings; set and pattern checks then read
      each distinct value once. High-cardinality text stays ``str`` (encoding it would
      cost more than it saves).
    """
    out = frame.copy(deep=False)
    n = len(out)
    step = max(1, n // 20_000)
    for c in out.columns:
        s = out[c]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            continue
        if pd.api.types.is_datetime64_dtype(s.dtype):
            out[c] = s.dt.tz_localize("UTC")
        elif n and isinstance(s.dtype, pd.StringDtype):
            sample = s.iloc[::step]
            if sample.nunique() <= categorical_max_share * len(sample):
                out[c] = s.astype("category")
    return out


# --------------------------------------------------------------------------- context


def get_context(data_dir: Path | str):
    """The FILE data context under ``reports/gx`` (analytics and progress bars off)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    root = gx_root(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    ctx = gx.get_context(mode="file", project_root_dir=str(root))
    changed = False
    if ctx.variables.analytics_enabled is not False:
        ctx.variables.analytics_enabled = False
        changed = True
    if ctx.variables.progress_bars is None or getattr(ctx.variables.progress_bars, "globally", None) is not False:
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        changed = True
    if changed:
        ctx.variables.save()
    return ctx


def _ensure_category(ctx, category: Category, catalogue: Catalogue, result_format: str):
    import great_expectations as gx

    ds = ctx.data_sources.add_or_update_pandas(DATASOURCE) if DATASOURCE not in ctx.data_sources.all() \
        else ctx.data_sources.get(DATASOURCE)
    try:
        asset = ds.get_asset(category.id)
    except LookupError:
        asset = ds.add_dataframe_asset(name=category.id)
    try:
        bd = asset.get_batch_definition(BATCH_DEFINITION)
    except (KeyError, LookupError):
        bd = asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)
    suite = ctx.suites.add_or_update(build_suite(category, catalogue))
    vd = ctx.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=category.id, data=bd, suite=suite)
    )
    cp = ctx.checkpoints.add_or_update(
        gx.Checkpoint(
            name=category.id,
            validation_definitions=[vd],
            # No per-run UpdateDataDocsAction: rebuilding the whole site after every file
            # made the quality step quadratic in files; run_validations builds it once.
            actions=[],
            result_format={"result_format": result_format},
        )
    )
    return cp


def _suite_fingerprint(category: Category, catalogue: Catalogue, result_format: str) -> str:
    """What a category's stored suite, validation definition and checkpoint are made of:
    the suite generated from the catalogue, the result format and the GX version."""
    import great_expectations as gx

    suite = build_suite(category, catalogue).to_json_dict()
    text = json.dumps([gx.__version__, DATASOURCE, BATCH_DEFINITION, result_format, suite],
                      sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _suites_state_path(data_dir: Path | str) -> Path:
    return gx_root(data_dir) / "suites_state.json"


def _checkpoint(ctx, category: Category, catalogue: Catalogue, result_format: str, saved: dict[str, str],
                force: bool = False):
    """The category's checkpoint. Saving a suite, its validation definition and its
    checkpoint costs GX about a second per category (it compares every expectation with
    the stored ones); when the store holds them as generated from the same catalogue
    (``saved``: category → :func:`_suite_fingerprint`, updated here) they are only read."""
    fp = _suite_fingerprint(category, catalogue, result_format)
    if not force and saved.get(category.id) == fp:
        try:
            return ctx.checkpoints.get(category.id)
        except Exception as e:  # noqa: BLE001 - a store changed by hand: save it again
            log.info("checkpoint %s not readable (%s): saved again", category.id, e)
    cp = _ensure_category(ctx, category, catalogue, result_format)
    saved[category.id] = fp
    return cp


def _run_name(source_file: str) -> str:
    # Store keys may not contain '/'.
    return re.sub(r"[\\/]+", "__", source_file)


def _state_path(data_dir: Path | str, catalogue: Catalogue) -> Path:
    return gx_root(data_dir) / str(_settings(catalogue).get("state_file", "validated_batches.json"))


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it over ``path``: a
    run that stops half-way leaves the old file or the new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _docs_fingerprint() -> str:
    """What the rendered Data Docs depend on besides the validation results: the
    catalogue (suites are generated from it), this module and the GX version. A change
    rebuilds the whole site; otherwise a run renders only its new results."""
    from importlib.metadata import version

    from ..settings import catalog_dir

    # The installed version, read without importing GX (seconds): the same string.
    h = hashlib.sha256(f"gx {version('great_expectations')}\n".encode())
    files = [p for p in sorted(catalog_dir().rglob("*")) if p.is_file() and p.suffix in (".yaml", ".yml", ".csv")]
    for p in [*files, Path(__file__)]:
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _docs_state_path(data_dir: Path | str) -> Path:
    return gx_root(data_dir) / "data_docs_state.json"


def _index_cache_path(data_dir: Path | str) -> Path:
    return gx_root(data_dir) / "data_docs_index_cache.json"


def _site_builder(ctx, data_dir: Path | str):
    """The context's Data Docs site builder (``local_site``), its index page built by
    :class:`pipelines.quality.gx_index.CachedSiteIndexBuilder` (the same page, without
    reading every stored result again)."""
    import copy

    from great_expectations.render.renderer.site_builder import SiteBuilder

    config = copy.deepcopy(dict(ctx.variables.data_docs_sites["local_site"]))
    config.pop("class_name", None)
    config.pop("module_name", None)
    index = dict(config.get("site_index_builder") or {})
    index.update(module_name="pipelines.quality.gx_index", class_name="CachedSiteIndexBuilder",
                 cache_path=str(_index_cache_path(data_dir)))
    config["site_index_builder"] = index
    return SiteBuilder(data_context=ctx, site_name="local_site", runtime_environment={"root_directory": ctx.root_directory},
                       **config)


def docs_current(data_dir: Path | str) -> bool:
    """Whether the Data Docs site exists and was rendered from the present catalogue,
    module and GX version (else the next :func:`build_docs` renders it all)."""
    try:
        recorded = json.loads(_docs_state_path(data_dir).read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError):
        return False
    return recorded == _docs_fingerprint() and docs_index(data_dir).exists()


def build_docs(ctx, data_dir: Path | str, new_results: list[Any], *, full: bool = False) -> str:
    """Render the Data Docs site: everything when asked, when it does not exist yet or
    when the suites may have changed (``_docs_fingerprint``); otherwise only the pages of
    ``new_results`` (and GX's index), so a run's cost follows its new files, not the
    history of every earlier run. Then the pages written are made offline. Returns
    "full", "incremental" or "unchanged"."""
    site = docs_index(data_dir).parent
    state_path = _docs_state_path(data_dir)
    fp = _docs_fingerprint()
    try:
        recorded = json.loads(state_path.read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError):
        recorded = None
    started = time.time()
    if full or recorded != fp or not docs_index(data_dir).exists():
        _index_cache_path(data_dir).unlink(missing_ok=True)
        (gx_root(data_dir) / "data_docs_static_index_cache.json").unlink(missing_ok=True)
        _site_builder(ctx, data_dir).build()
        make_docs_offline(site)
        mode = "full"
    elif new_results:
        _site_builder(ctx, data_dir).build(resource_identifiers=list(new_results))
        # Pages written by this build only (mtime; 2 s slack for coarse file-system clocks).
        make_docs_offline(site, since=started - 2)
        mode = "incremental"
    else:
        mode = "unchanged"
    write_static_index(gx_root(data_dir) / "gx")
    state_path.write_text(json.dumps({"fingerprint": fp}) + "\n", encoding="utf-8")
    return mode


def _run_checkpoint(checkpoint, batch_parameters: dict[str, Any], expectation_parameters: dict[str, Any], run_id):
    """What ``Checkpoint.run`` does for our checkpoints (no actions, a file context whose
    run preparation is a no-op): each validation definition run with the checkpoint's id
    and result format, results keyed by suite, run id and batch — the same stored results.
    Without its freshness check, which reads the checkpoint, its validation definition
    and suite back from the store and compares them (about a tenth of a second per file,
    and ``ValidationDefinition.run`` checks the definition and suite again): the checkpoint
    was read from, or saved to, the store by this run (:func:`_checkpoint`). A checkpoint
    with actions or not saved goes through ``Checkpoint.run``."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    if checkpoint.actions or not checkpoint.id:
        return checkpoint.run(batch_parameters=batch_parameters, expectation_parameters=expectation_parameters,
                              run_id=run_id).run_results
    results = {}
    for vd in checkpoint.validation_definitions:
        vr = vd.run(checkpoint_id=checkpoint.id, batch_parameters=batch_parameters,
                    expectation_parameters=expectation_parameters, result_format=checkpoint.result_format, run_id=run_id)
        key = ValidationResultIdentifier(expectation_suite_identifier=ExpectationSuiteIdentifier(name=vd.suite.name),
                                         run_id=run_id, batch_identifier=vr.batch_id)
        results[key] = vr
    return results


def _validate_file(con, ctx, catalogue: Catalogue, checkpoint, t: dict[str, Any]):
    """Validate one delivered file: (rows, [(statistics, result id tuple)])."""
    frame = batch_frame(con, catalogue.category(t["category"]), t["source_file"], t["batch_date"])
    return validate_frame(catalogue, checkpoint, t, frame)


def validate_frame(catalogue: Catalogue, checkpoint, t: dict[str, Any], frame: pd.DataFrame):
    """Validate one delivered file's :func:`batch_frame`: (rows, [(statistics, result id
    tuple)]); the result is stored in the context's validation store."""
    import great_expectations as gx

    bdate = t["batch_date"]
    frame = gx_frame(frame, float(_settings(catalogue).get("categorical_max_share", 0.05)))
    with warnings.catch_warnings():
        # GX reads DatetimeTZ columns through Series.values (deprecated by pandas 3.1, same values).
        warnings.simplefilter("ignore", getattr(pd.errors, "Pandas4Warning", DeprecationWarning))
        run_results = _run_checkpoint(
            checkpoint,
            batch_parameters={"dataframe": frame},
            expectation_parameters={"batch_date": _as_utc(bdate), "current_year": bdate.year},
            run_id=gx.RunIdentifier(run_name=_run_name(t["source_file"]), run_time=dt.datetime.now(dt.UTC)),
        )
    out = []
    for key, vr in run_results.items():
        stats = vr.statistics
        out.append(({"success": bool(vr.success), "evaluated": int(stats.get("evaluated_expectations", 0)),
                     "failed": int(stats.get("unsuccessful_expectations", 0))}, key.to_tuple()))
    return len(frame), out


def _database_path(con) -> str | None:
    """The warehouse file of ``con`` when it is open read-only (others may then read it
    too), else None."""
    try:
        row = con.execute("select path, readonly from duckdb_databases() "
                          "where database_name = current_database()").fetchone()
    except Exception:  # noqa: BLE001 - not a DuckDB file connection
        return None
    return row[0] if row and row[0] and row[1] else None


def _workers(con, settings: dict[str, Any], files: int, rows: int | None = None) -> int:
    """Worker processes for this run's validations (``quality.gx.workers``), 1 — in this
    process — when the warehouse is not open read-only (a writer locks other processes
    out), for fewer than ``parallel_min_files`` files, or when the validations would be
    quick in this process: a worker takes seconds to start (spawn, import GX, load the
    context), so workers are used only when the estimated serial time (``seconds_per_file``
    per file, GX's fixed cost, plus ``seconds_per_million_rows``) reaches
    ``parallel_min_seconds``."""
    wanted = int(settings.get("workers", 1) or 1)
    if wanted <= 1 or files < int(settings.get("parallel_min_files", 8)) or _database_path(con) is None:
        return 1
    if rows is not None:
        estimate = files * float(settings.get("seconds_per_file", 0.6)) \
            + rows / 1e6 * float(settings.get("seconds_per_million_rows", 25))
        if estimate < float(settings.get("parallel_min_seconds", 0) or 0):
            return 1
    return max(1, min(wanted, os.cpu_count() or 1, files))


_WORKER: dict[str, Any] = {}


def _worker_init(data_dir: str, database: str, memory_limit: str) -> None:
    import fcntl

    import duckdb

    from ..catalogue import load_catalogue

    _WORKER["con"] = duckdb.connect(database, read_only=True, config={"memory_limit": memory_limit})
    # Loading a file context may (re)write its config files: two workers loading at once
    # have read each other's half-written great_expectations.yml. One at a time.
    with open(gx_root(data_dir) / ".context.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _WORKER["ctx"] = get_context(data_dir)
    _WORKER["catalogue"] = load_catalogue()
    _WORKER["checkpoints"] = {}


def _worker_validate(t: dict[str, Any]):
    cps = _WORKER["checkpoints"]
    if t["category"] not in cps:  # made (and saved) by the parent before any work was sent
        cps[t["category"]] = _WORKER["ctx"].checkpoints.get(t["category"])
    return _validate_file(_WORKER["con"], _WORKER["ctx"], _WORKER["catalogue"], cps[t["category"]], t)


def _validate_in_workers(data_dir: Path, database: str, todo: list[dict[str, Any]], workers: int):
    """The files validated by ``workers`` processes, one file per task (the large ones
    first, so the last task is a short one), each process with its own read-only warehouse
    connection and GX context on the same file stores (each result is its own file).
    Results in the order of ``todo``, None for a file a worker could not validate (the
    caller validates those itself). GX's pandas metrics hold the GIL: threads would not
    help, processes do."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from ..settings import duckdb_memory_limit

    # Big files first: the registration list alone is a third of a province's rows.
    order = sorted(range(len(todo)), key=lambda i: -todo[i]["rows"])
    results: list[Any] = [None] * len(todo)
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                             initializer=_worker_init,
                             initargs=(str(data_dir), database, duckdb_memory_limit())) as pool:
        futures = {pool.submit(_worker_validate, todo[i]): i for i in order}
        for fut, i in futures.items():
            try:
                results[i] = fut.result()
            except Exception as e:  # noqa: BLE001 - a worker that failed: the caller redoes its files
                log.warning("validation of %s in a worker failed (%s): validated in-process instead",
                            todo[i]["source_file"], e)
    return results


def read_state(data_dir: Path | str, catalogue: Catalogue) -> dict[str, str]:
    """source file → sha256 of every file validated before (``quality.gx.state_file``)."""
    try:
        return json.loads(_state_path(data_dir, catalogue).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def files_to_validate(con, catalogue: Catalogue, state: dict[str, str],
                      batches: Iterable[str] | None = None) -> tuple[list[dict[str, Any]], int]:
    """The delivered files to validate, one task per ``audit.loads`` row (status
    ``loaded`` or ``rejected_file``) — ``batches`` if given, else those not validated
    before with the same sha256 (``state``) — and how many were skipped as validated."""
    loads = con.execute(
        "select source_file, department_code, category, batch, batch_date, sha256, status, rows_read "
        "from audit.loads where status in ('loaded', 'rejected_file') and category is not null "
        "order by batch_date, batch, source_file"
    ).df()
    if batches is not None:
        wanted = set(batches)
        loads = loads[loads["source_file"].isin(wanted)]
    todo: list[dict[str, Any]] = []
    skipped = 0
    for row in loads.itertuples(index=False):
        category = catalogue.category(row.category)
        if category is None:
            continue
        if batches is None and state.get(row.source_file) == row.sha256:
            skipped += 1
            continue
        bdate = pd.Timestamp(row.batch_date) if row.batch_date is not None and not pd.isna(row.batch_date) \
            else pd.Timestamp.today().normalize()
        todo.append({"source_file": row.source_file, "category": category.id, "department_code": row.department_code,
                     "batch": row.batch, "batch_date": bdate, "sha256": row.sha256,
                     "rows": 0 if pd.isna(row.rows_read) else int(row.rows_read)})
    return todo, skipped


def run_validations(
    data_dir: Path | str,
    con,
    catalogue: Catalogue,
    batches: Iterable[str] | None = None,
    *,
    force: bool = False,
) -> dict[str, Any]:
    """Validate delivered files and (re)build the offline Data Docs site.

    ``batches``: source files (paths relative to the inbox, as in ``audit.loads``); by
    default every file with status ``loaded`` or ``rejected_file`` not validated before
    with the same sha256 (so a re-run is cheap and adds nothing). Files validated ahead
    by the early worker (:mod:`pipelines.quality.early`: a landed batch validated while
    code governance and dbt ran) are taken from its results, the others validated here.
    Returns a summary: ``{"docs": path, "validated": [ {source_file, category,
    department_code, batch, success, evaluated, failed, rows} ], "skipped": n,
    "validated_early": n, "docs_build": "full" | "incremental" | "unchanged" | "early"}``
    (``build_docs``; "early": the worker rendered every new page and the index, and
    this step did not import GX at all; ``force`` validates and rebuilds everything).
    """
    from . import early

    data_dir = Path(data_dir)
    settings = _settings(catalogue)
    result_format = str(settings.get("result_format", "SUMMARY"))
    state = {} if force else read_state(data_dir, catalogue)
    todo, skipped = files_to_validate(con, catalogue, state, batches)
    # What the early worker validated (it has finished: see early.wait), by file and
    # content; results of files validated since, or not asked for, are dropped.
    ahead = {} if force else early.results(data_dir)
    rendered = set() if force else early.rendered(data_dir)  # pages and index built by the worker
    results: list[Any] = [ahead.get((t["source_file"], t["sha256"])) for t in todo]
    ctx = None  # GX is imported (seconds) only when this step validates or renders
    suites_path = _suites_state_path(data_dir)
    try:
        saved: dict[str, str] = json.loads(suites_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        saved = {}
    checkpoints: dict[str, Any] = {}
    for t, r in zip(todo, results, strict=True):
        if r is None and t["category"] not in checkpoints:
            ctx = ctx or get_context(data_dir)
            checkpoints[t["category"]] = _checkpoint(ctx, catalogue.category(t["category"]), catalogue,
                                                     result_format, saved, force)
    left = [i for i, r in enumerate(results) if r is None]
    rest = [todo[i] for i in left]
    workers = _workers(con, settings, len(rest), sum(t["rows"] for t in rest))
    if workers > 1:
        for i, r in zip(left, _validate_in_workers(data_dir, _database_path(con), rest, workers), strict=True):
            results[i] = r
    # In this process: everything when serial, else what a worker could not do.
    results = [r if r is not None else _validate_file(con, ctx, catalogue, checkpoints[t["category"]], t)
               for t, r in zip(todo, results, strict=True)]
    summary: list[dict[str, Any]] = []
    to_render: list[tuple[str, ...]] = []
    for t, (rows, ids) in zip(todo, results, strict=True):
        for stats, id_tuple in ids:
            if (t["source_file"], t["sha256"]) not in rendered:
                to_render.append(tuple(id_tuple))
            summary.append({"source_file": t["source_file"], "category": t["category"],
                            "department_code": t["department_code"], "batch": t["batch"], "rows": rows, **stats})
        state[t["source_file"]] = t["sha256"]
    if force or to_render or not docs_current(data_dir):
        from great_expectations.data_context.types.resource_identifiers import (
            ValidationResultIdentifier,
        )

        ctx = ctx or get_context(data_dir)
        if not summary and not docs_index(data_dir).exists():
            # A clean state with nothing to validate still gets the suites documented.
            for category in catalogue.categories.values():
                _checkpoint(ctx, category, catalogue, result_format, saved, force)
        docs_build = build_docs(ctx, data_dir, [ValidationResultIdentifier.from_tuple(i) for i in to_render],
                                full=force)
    else:
        docs_build = "early" if summary else "unchanged"
    _write_atomic(suites_path, json.dumps(saved, indent=1, sort_keys=True))
    _write_atomic(_state_path(data_dir, catalogue), json.dumps(state, ensure_ascii=False, indent=1, sort_keys=True))
    early.clear(data_dir)
    return {"docs": docs_index(data_dir), "validated": summary, "skipped": skipped,
            "validated_early": sum(1 for t in todo if (t["source_file"], t["sha256"]) in ahead),
            "docs_build": docs_build}


# --------------------------------------------------------------------------- offline docs

_REMOTE_TAG = re.compile(
    r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']\s*(?:https?:)?//[^\"']*[\"'][^>]*>(?:\s*</script>)?",
    re.IGNORECASE,
)
_REMOTE_IMG = re.compile(r"(<img\b[^>]*\bsrc\s*=\s*[\"'])\s*(?:https?:)?//[^\"']*([\"'])", re.IGNORECASE)
_REMOTE_CSS_URL = re.compile(r"url\(\s*[\"']?\s*(?:https?:)?//[^)]*\)", re.IGNORECASE)
_OFFLINE_MARK = "<!-- credit-warehouse: offline -->"
_OFFLINE_CSS = """<style>
/* Local replacement for the CDN Bootstrap/Font Awesome that GX pages reference. */
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",sans-serif;color:#1f2933;margin:0;background:#f5f7fa}
.container,.container-fluid{padding:12px 20px;box-sizing:border-box;max-width:1400px;margin:0 auto}
.row{display:flex;flex-wrap:wrap;gap:16px}.col-md-2,.col-md-3,.col-lg-2,.col-lg-3,.col-xl-2{flex:0 0 260px}
.col-md-8,.col-md-9,.col-md-10,.col-lg-9,.col-lg-10,.col-xl-10,.col-12{flex:1 1 600px;min-width:0}
.card{background:#fff;border:1px solid #d9e2ec;border-radius:6px;margin-bottom:14px;padding:0}
.card-header{background:#eef2f7;padding:8px 12px;font-weight:600;border-bottom:1px solid #d9e2ec}.card-body{padding:10px 12px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border:1px solid #d9e2ec;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef2f7}.table-striped tbody tr:nth-child(odd){background:#fafbfc}
.badge,.badge-pill{display:inline-block;padding:1px 7px;border-radius:8px;font-size:12px;background:#e4e7eb}
.badge-success,.text-success{color:#0b6b3a}.badge-danger,.text-danger{color:#b42318}.badge-warning{color:#8a5a00}
.alert{padding:8px 12px;border-radius:6px;background:#fff8e1;border:1px solid #f0d58c}
.navbar{background:#1f3a5f;color:#fff;padding:8px 20px}.navbar a{color:#fff}.navbar img{height:28px}
a{color:#1f5fa8}.sticky{position:sticky;top:0}.collapse:not(.show){display:none}.d-none{display:none}
.fas,.far,.fa{font-style:normal}.fa-check-circle:before{content:"✔"}.fa-times:before{content:"✘"}.fa-times-circle:before{content:"✘"}
.fa-exclamation-triangle:before{content:"⚠"}.fa-info-circle:before{content:"ⓘ"}
img{max-width:100%}.vega-embed,.show-scrollbars{overflow:auto}
ul.nav{list-style:none;padding-left:0}ul.nav li{margin:3px 0}
</style>"""


def make_docs_offline(site_dir: Path, since: float | None = None) -> list[Path]:
    """Strip remote (CDN) <script>/<link> tags from every page (or the pages modified at
    or after ``since``, a timestamp) and inline a local style."""
    changed: list[Path] = []
    site_dir = Path(site_dir)
    for page in site_dir.rglob("*.html"):
        if since is not None and page.stat().st_mtime < since:
            continue
        text = page.read_text(encoding="utf-8")
        new = _REMOTE_TAG.sub("", text)
        # The GX logo is fetched from S3 with the data context id in the query string (a
        # tracking pixel): point it at the copy GX ships in static/images instead.
        local_logo = os.path.relpath(site_dir / "static" / "images" / "logo-long.png", page.parent).replace(os.sep, "/")
        new = _REMOTE_IMG.sub(lambda m, logo=local_logo: m.group(1) + logo + m.group(2), new)
        new = _REMOTE_CSS_URL.sub("none", new)
        if _OFFLINE_MARK not in new:
            new = new.replace("</head>", f"{_OFFLINE_MARK}\n{_OFFLINE_CSS}\n</head>", 1)
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed.append(page)
    return changed


def remote_references(site_dir: Path) -> list[str]:
    """Every http(s):// or protocol-relative URL loaded by a page (src/href of script/link/img)."""
    found: list[str] = []
    pat = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']\s*((?:https?:)?//[^\"']+)", re.I)
    for page in Path(site_dir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        found += [f"{page.name}: {u}" for u in pat.findall(text)]
        found += [f"{page.name}: {u}" for u in _REMOTE_CSS_URL.findall(text)]
        found += [f"{page.name}: {u}" for u in re.findall(r"@import\s+[\"']?(?:url\()?\s*[\"']?((?:https?:)?//[^\"')]+)", text)]
    return found


_STATIC_START = "<!-- credit-warehouse: static index -->"
_STATIC_END = "<!-- /credit-warehouse: static index -->"


def write_static_index(gx_dir: Path) -> Path:
    """GX fills its index tables with bootstrap-table (CDN JavaScript). Offline, add a
    plain HTML list of the suites and of every validation result (newest first)."""
    import html as _html

    site = gx_dir / "uncommitted" / "data_docs" / "local_site"
    index = site / "index.html"
    store = gx_dir / "uncommitted" / "validations"
    # A stored result never changes: its outcome is read once and kept in this file.
    cache_path = gx_dir.parent / "data_docs_static_index_cache.json"
    try:
        cache: dict[str, list] = json.loads(cache_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    kept: dict[str, list] = {}
    rows = []
    for js in store.rglob("*.json"):
        rel = js.relative_to(store).with_suffix(".html")
        page = site / "validations" / rel
        if not page.exists():
            continue
        info = cache.get(rel.as_posix())
        if info is None:
            try:
                res = json.loads(js.read_text(encoding="utf-8"))
            except ValueError:
                continue
            stats = res.get("statistics", {}) or {}
            info = [bool(res.get("success")), stats.get("evaluated_expectations"), stats.get("unsuccessful_expectations")]
        kept[rel.as_posix()] = info
        parts = rel.parts  # suite / run_name / run_time / batch.html
        rows.append((parts[-3] if len(parts) >= 3 else "", parts[0], parts[1].replace("__", "/") if len(parts) > 1 else "",
                     *info, rel.as_posix()))
    if kept != cache:
        _write_atomic(cache_path, json.dumps(kept, ensure_ascii=False, sort_keys=True))
    rows.sort(key=lambda r: (r[0], r[2]), reverse=True)
    suites = sorted(p.relative_to(site).as_posix() for p in (site / "expectations").rglob("*.html")) if (site / "expectations").exists() else []
    out = [_STATIC_START, '<div class="container-fluid" id="offline-index"><div class="card"><div class="card-header">'
           "期望套件（由信息采集目录生成）</div><div class=\"card-body\"><ul class=\"nav\">"]
    out += [f'<li><a href="{_html.escape(u)}">{_html.escape(Path(u).stem)}</a></li>' for u in suites]
    out.append('</ul></div></div><div class="card"><div class="card-header">校验结果（每个报送文件一次，最新在前）</div>'
               '<div class="card-body"><table class="table table-striped"><thead><tr><th>运行时间</th><th>信息类别</th>'
               "<th>报送文件</th><th>结果</th><th>期望数</th><th>未通过</th></tr></thead><tbody>")
    for run_time, suite, source, ok, ev, bad, href in rows:
        badge = '<span class="text-success">通过</span>' if ok else '<span class="text-danger">未通过</span>'
        out.append(f"<tr><td>{_html.escape(run_time)}</td><td>{_html.escape(suite)}</td>"
                   f'<td><a href="validations/{_html.escape(href)}">{_html.escape(mask_ids(source) or "")}</a></td>'
                   f"<td>{badge}</td><td>{ev if ev is not None else ''}</td><td>{bad if bad is not None else ''}</td></tr>")
    out.append("</tbody></table></div></div></div>" + _STATIC_END)
    text = index.read_text(encoding="utf-8")
    text = re.sub(re.escape(_STATIC_START) + r".*?" + re.escape(_STATIC_END), "", text, flags=re.S)
    m = re.search(r"<body[^>]*>", text)
    pos = m.end() if m else 0
    index.write_text(text[:pos] + "\n".join(out) + text[pos:], encoding="utf-8")
    return index
