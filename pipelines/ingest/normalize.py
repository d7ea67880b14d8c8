"""Header mapping and value normalisation (polars expressions, one pass per file).

The output is the *validation frame* of :mod:`pipelines.catalogue.schemas`: per field the
typed value ``<name>`` and, for parsed fields, ``<name>__text``; plus ``__flags``
(list of Chinese warnings) and ``__money_suspicious``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from ..catalogue import Catalogue, Category, Field
from ..catalogue.schemas import code_valid_expr, has_valid_col, text_col, valid_col
from ..codes.expr import id_no_is_valid_expr, normalize_code_expr, uscc_is_valid_expr
from ..textnorm import normalize_header, normalize_value_expr
from .readers import excel_display_expr

FLAGS = "__flags"
MONEY_SUSPICIOUS = "__money_suspicious"
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_LIST_SEP = r"[;；、,，]"
_TIME_TAIL = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_YMD_RE = r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?" + _TIME_TAIL + "$"
_COMPACT_RE = r"^(\d{4})(\d{2})(\d{2})$"
_SERIAL_RE = r"^\d{1,6}(?:\.0+)?$"


@dataclass
class HeaderMapping:
    columns: dict[str, str]  # field name -> original header
    extra: list[str]  # original headers not in the catalogue (or repeated)
    missing_required: list[Field] = field(default_factory=list)

    @property
    def missing_reason(self) -> str:
        labels = "、".join(f"「{f.label}」" for f in self.missing_required)
        return f"缺少必填列：{labels}"


def map_headers(headers: list[str], category: Category) -> HeaderMapping:
    """Original headers → catalogue fields by label, national field code or alias
    (full-width characters and white space tolerated)."""
    hm = category.header_map
    columns: dict[str, str] = {}
    extra: list[str] = []
    for h in headers:
        name = hm.get(normalize_header(h))
        if name is None or name in columns:
            extra.append(h)
        else:
            columns[name] = h
    missing = [f for f in category.required_fields if f.name not in columns]
    return HeaderMapping(columns, extra, missing)


def parse_date_expr(s: pl.Expr, serial_min: int = 1, serial_max: int = 73050) -> pl.Expr:
    """Normalised text → Date for ``2024-03-05``, ``2024/3/5``, ``2024.03.05``,
    ``2024年3月5日``, ``20240305``, an optional time tail, and Excel serials in range.
    Impossible dates (``2026-02-30``) give null."""
    ymd = s.str.extract_groups(_YMD_RE)
    compact = s.str.extract_groups(_COMPACT_RE)

    def iso(parts: pl.Expr) -> pl.Expr:
        return pl.concat_str(
            [
                parts.struct.field("1"),
                pl.lit("-"),
                parts.struct.field("2").str.zfill(2),
                pl.lit("-"),
                parts.struct.field("3").str.zfill(2),
            ]
        )

    text = pl.coalesce(iso(ymd), iso(compact))
    parsed = text.str.to_date("%Y-%m-%d", strict=False)
    serial = (
        pl.when(s.str.contains(_SERIAL_RE))
        .then(s.str.extract(r"^(\d+)").cast(pl.Int64, strict=False))
        .otherwise(None)
    )
    serial_ok = serial.is_between(serial_min, serial_max)
    from_serial = pl.when(serial_ok).then(pl.lit(_EXCEL_EPOCH) + pl.duration(days=serial)).otherwise(None)
    return pl.when(text.is_not_null()).then(parsed).otherwise(from_serial.cast(pl.Date))


def parse_number_expr(s: pl.Expr) -> pl.Expr:
    """Text → Float64 (thousands separators and a trailing 万元/元 unit tolerated);
    null when not a finite number."""
    t = s.str.replace_all(r"[,\s]", "").str.replace(r"万?元$", "")
    v = t.cast(pl.Float64, strict=False)
    return pl.when(v.is_finite()).then(v).otherwise(None)


def _enum_map(f: Field) -> dict[str, str]:
    """Accepted spellings (canonical, aliases; also their half-width/upper forms) → canonical."""
    m: dict[str, str] = {}
    for v in f.enum or []:
        m[v] = v
    for a, v in f.enum_aliases.items():
        m[str(a)] = v
    for k, v in list(m.items()):
        m.setdefault(normalize_header(k), v)
    return m


def _enum_expr(f: Field, s: pl.Expr) -> pl.Expr:
    m = _enum_map(f)
    key = s.str.replace_all(r"\s+", "")
    return key.replace_strict(m, default=None, return_dtype=pl.String).fill_null(
        key.str.to_uppercase().replace_strict(m, default=None, return_dtype=pl.String)
    )


def _enum_list_expr(f: Field, s: pl.Expr) -> pl.Expr:
    """Split on ; ； 、 , ， → canonical values in catalogue order joined by ``;``;
    null when any item is not a value of the enumeration."""
    m = _enum_map(f)
    items = s.str.split_regex(_LIST_SEP) if hasattr(pl.Expr.str, "split_regex") else (
        s.str.replace_all(_LIST_SEP, ";").str.split(";")
    )
    items = items.list.eval(pl.element().str.replace_all(r"\s+", "")).list.eval(
        pl.element().filter(pl.element() != "")
    )
    canon = items.list.eval(pl.element().replace_strict(m, default=None, return_dtype=pl.String))
    bad = canon.list.eval(pl.element().is_null()).list.any() | (canon.list.len() == 0)
    joined = pl.concat_str(
        [pl.when(canon.list.contains(pl.lit(v))).then(pl.lit(v)) for v in (f.enum or [])],
        separator=";",
        ignore_nulls=True,
    )
    return pl.when(s.is_null() | bad).then(None).otherwise(joined)


def _field_exprs(f: Field, raw: pl.Expr, smin: int, smax: int) -> list[pl.Expr]:
    """Validation-frame columns of one field from its raw text."""
    s = normalize_value_expr(raw)
    out: list[pl.Expr] = []
    if f.type == "code":
        n = normalize_code_expr(s)
        n = pl.when(n == "").then(None).otherwise(n)
        out.append(n.alias(f.name))
        if has_valid_col(f):
            out.append(code_valid_expr(f, n).alias(valid_col(f.name)))
        return out
    if f.type == "text":
        return [s.alias(f.name)]
    if f.is_enum and f.default is not None:
        s = s.fill_null(pl.lit(f.default))
    if f.type == "enum":
        out.append(_enum_expr(f, s).alias(f.name))
    elif f.type == "enum_list":
        out.append(_enum_list_expr(f, s).alias(f.name))
    elif f.type == "date":
        out.append(parse_date_expr(s, smin, smax).alias(f.name))
    elif f.type == "money":
        out.append(parse_number_expr(s).alias(f.name))
    elif f.type == "int":
        v = parse_number_expr(s)
        out.append(pl.when(v == v.round(0)).then(v.cast(pl.Int64, strict=False)).otherwise(None).alias(f.name))
    out.append(s.alias(text_col(f.name)))
    return out


_DISTINCT_SAMPLE = 50_000
_DIRECT_ABOVE = 0.2


# Up to this many rows a file's fields are all evaluated directly, in one query: the
# distinct-values path costs a few queries per field, more than it saves on few rows.
_ALL_DIRECT_UP_TO = 5000


def _mostly_distinct(s: pl.Series) -> bool:
    """Whether evaluating directly beats the distinct-values path, judged on a sample (a
    full ``unique`` plus the join back costs more than evaluating directly once a fifth
    of the values are distinct)."""
    sample = s.head(_DISTINCT_SAMPLE)
    return bool(len(sample)) and sample.n_unique() > _DIRECT_ABOVE * len(sample)


def _on_distinct(s: pl.Series, exprs_of: Callable[[pl.Expr], list[pl.Expr]]) -> pl.DataFrame:
    """Evaluate per-value expressions once per distinct value and join back (codes,
    dates, enums and authorities repeat a lot in a delivery); directly when more than half
    the values turn out distinct. The expressions are per value: the same result either way."""
    k = "__k"
    frame = pl.DataFrame({k: s})
    u = s.unique()
    if 2 * len(u) > len(s):
        return frame.select(exprs_of(pl.col(k)))
    mapped = pl.DataFrame({k: u}).select(pl.col(k), *exprs_of(pl.col(k)))
    return frame.join(mapped, on=k, how="left", nulls_equal=True, maintain_order="left").drop(k)


def _field_columns(df: pl.DataFrame, mapping: HeaderMapping, category: Category, smin: int, smax: int
                   ) -> pl.DataFrame:
    """Every field's validation-frame columns, in field order. The fields evaluated
    directly (all of them in a small file, those with mostly distinct values in a larger
    one) go through one ``select``, so polars runs them side by side and a file with
    many fields and few rows pays one query, not one per field; the others through
    :func:`_on_distinct`. The values are the same either way."""
    n = df.height
    none = "__none"  # the input of the fields the file lacks: nulls
    while none in df.columns:
        none += "_"
    small = n <= _ALL_DIRECT_UP_TO
    source = pl.DataFrame(
        [*(df[c].cast(pl.String) for c in dict.fromkeys(mapping.columns.values())),
         pl.repeat(None, n, dtype=pl.String, eager=True).alias(none)],
        height=n,
    )
    direct: list[pl.Expr] = []
    pieces: list[list[str] | pl.DataFrame] = []  # per field: its direct columns, or its frame
    for f in category.fields:
        orig = mapping.columns.get(f.name)
        if orig is None or small or _mostly_distinct(source[orig]):
            exprs = _field_exprs(f, pl.col(none if orig is None else orig), smin, smax)
            direct.extend(exprs)
            pieces.append([e.meta.output_name() for e in exprs])
        else:
            pieces.append(_on_distinct(source[orig], lambda e, f=f: _field_exprs(f, e, smin, smax)))
    evaluated = source.select(direct) if direct else pl.DataFrame(height=n)
    parts: list[pl.Series] = []
    for piece in pieces:
        if isinstance(piece, list):
            parts.extend(evaluated[c] for c in piece)
        else:
            parts.extend(piece.get_columns())
    return pl.DataFrame(parts, height=n) if parts else pl.DataFrame(height=n)


def _code_checksum_ok(f: Field, e: pl.Expr) -> pl.Expr:
    """Whether a long digit-only code is valid for its kind (a check digit holds)."""
    if f.code_kind == "id_no":
        return id_no_is_valid_expr(e)
    return uscc_is_valid_expr(e) | id_no_is_valid_expr(e)


def normalize_frame(
    df: pl.DataFrame,
    mapping: HeaderMapping,
    category: Category,
    catalogue: Catalogue,
    *,
    numeric_cells: dict[str, pl.Series] | None = None,
    not_submitted_flag: str | None = None,
) -> pl.DataFrame:
    """The validation frame of one file (same row order as ``df``)."""
    settings = catalogue.settings.get("ingest", {})
    dates = settings.get("dates", {})
    smin, smax = int(dates.get("excel_serial_min", 1)), int(dates.get("excel_serial_max", 73050))
    suspicious_above = float(settings.get("money", {}).get("suspicious_above", 100000))
    numeric_cells = numeric_cells or {}
    frame = _field_columns(df, mapping, category, smin, smax)

    flags: list[pl.Expr] = []
    suspicious: list[pl.Expr] = []
    for f in category.fields:
        orig = mapping.columns.get(f.name)
        if f.type == "code" and orig is not None and orig in numeric_cells:
            # A long code Excel stored as a number lost its tail: show it as Excel does
            # and flag it, unless it is a valid code (a text cell that only looks numeric).
            valid = _code_checksum_ok(f, pl.col(f.name))
            mangled = pl.lit(numeric_cells[orig]) & ~valid.fill_null(False)
            frame = frame.with_columns(
                mangled.alias(f"__xlnum__{f.name}"),
                pl.when(mangled).then(excel_display_expr(pl.col(f.name))).otherwise(pl.col(f.name)).alias(f.name),
            )
            flags.append(
                pl.when(pl.col(f"__xlnum__{f.name}")).then(
                    pl.format(f"「{f.label}」在 Excel 中被存为数字，末位可能已失真：{{}}", pl.col(f.name))
                )
            )
        if f.type == "money":
            over = (pl.col(f.name) > suspicious_above).fill_null(False)
            suspicious.append(over)
            flags.append(
                pl.when(over).then(
                    pl.format(
                        f"「{f.label}」超过 {suspicious_above:g} 万元，可能误以元为单位填报：{{}}",
                        pl.col(text_col(f.name)),
                    )
                )
            )
    if not_submitted_flag:
        flags.append(pl.lit(not_submitted_flag))
    extra = [
        (pl.any_horizontal(suspicious) if suspicious else pl.lit(False)).alias(MONEY_SUSPICIOUS),
    ]
    if flags:
        extra.append(pl.concat_list(flags).list.drop_nulls().alias(FLAGS))
    else:
        extra.append(pl.lit([], dtype=pl.List(pl.String)).alias(FLAGS))
    frame = frame.with_columns(extra)
    return frame.drop([c for c in frame.columns if c.startswith("__xlnum__")])
