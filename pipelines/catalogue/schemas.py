"""Pandera (polars backend) schemas generated from the catalogue.

The ingestion normalises a delivery into a *validation frame*: for every catalogue field
``<name>`` holds the typed, normalised value (String / Date / Float64 / Int64; an
``enum_list`` as its canonical ``;``-joined string) and, for fields whose text has to be
parsed or looked up (date, money, int, enum, enum_list), ``<name>__text`` holds the
half-width trimmed text before parsing (null when empty); for ``must_be_valid`` codes,
``<name>__valid`` holds the code's validity (computed once per distinct value). :func:`rule_checks` turns the
catalogue rules into polars expressions over that frame (True = passes), each with the
rule id of ``docs/architecture.md`` and a Chinese message expression naming the field
label and the value; :func:`build_schema` wraps them into a ``pa.DataFrameSchema``
whose check names are the rule ids, attached to the field's column, so
``SchemaErrors.failure_cases`` (column, check, index) maps back to (field, rule, row).

Everything relative to time is relative to the batch (delivery) date in the
:class:`SchemaContext`, never the wall clock: validation is deterministic.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from .model import Catalogue, Category, Field

if TYPE_CHECKING:  # pandera (and pandas under it) is imported when a schema is built:
    import pandera.polars as pa  # a run with nothing new to validate does not pay for it

RULE_ORDER = (
    "required",
    "required_when",
    "enum",
    "date_format",
    "date_future",
    "date_order",
    "date_range",
    "number_format",
    "min",
    "max",
    "code_invalid",
    "subject_kind",
)

_DTYPES: dict[str, type[pl.DataType]] = {
    "text": pl.String,
    "code": pl.String,
    "enum": pl.String,
    "enum_list": pl.String,
    "date": pl.Date,
    "money": pl.Float64,
    "int": pl.Int64,
}
_PARSED = {"date", "money", "int", "enum", "enum_list"}


def text_col(name: str) -> str:
    """Name of the pre-parse text column of a field in the validation frame."""
    return f"{name}__text"


def valid_col(name: str) -> str:
    """Name of the Boolean validity column of a ``must_be_valid`` code field."""
    return f"{name}__valid"


def has_valid_col(f: Field) -> bool:
    return f.type == "code" and f.must_be_valid and f.code_kind in ("uscc", "region", "industry")


def has_text_col(f: Field) -> bool:
    return f.type in _PARSED


def field_dtype(f: Field) -> type[pl.DataType]:
    return _DTYPES[f.type]


@dataclass(frozen=True)
class SchemaContext:
    """What rules are relative to: the delivery (batch) date, and the earliest date."""

    batch_date: dt.date
    earliest: dt.date = dt.date(1949, 10, 1)

    @classmethod
    def for_batch(cls, catalogue: Catalogue, batch_date: dt.date) -> SchemaContext:
        try:
            earliest = dt.date.fromisoformat(str(catalogue.setting("ingest.dates.earliest")))
        except (KeyError, TypeError):
            earliest = cls.earliest
        return cls(batch_date=batch_date, earliest=earliest)


@dataclass(frozen=True)
class RuleCheck:
    """One catalogue rule on one field: ``passes`` is True (never null) where it holds;
    ``message`` is the Chinese reason for a failing row."""

    field: str
    rule: str
    passes: pl.Expr
    message: pl.Expr


def _esc(s: str) -> str:
    return s.replace("{", "{{").replace("}", "}}")


def _msg(template: str, *values: pl.Expr) -> pl.Expr:
    """``pl.format`` with the template's braces for values only."""
    return pl.format(template, *values) if values else pl.lit(template)


def _value_col(f: Field) -> str:
    return text_col(f.name) if has_text_col(f) else f.name


def _condition_text(cat: Category, f: Field) -> str:
    cond = f.required_when
    assert cond is not None
    target = cat.field(cond.field)
    vals = "」或「".join(cond.in_)
    verb = "含" if target.type == "enum_list" else "为"
    text = f"{target.label}{verb}「{vals}」时"
    if f.unless_any:
        others = "、".join(f"「{cat.field(o).label}」" for o in f.unless_any)
        text += f"，且未填写{others}"
    return text


def _condition_expr(cat: Category, f: Field) -> pl.Expr:
    cond = f.required_when
    assert cond is not None
    target = cat.field(cond.field)
    col = pl.col(target.name)
    if target.type == "enum_list":
        hit = pl.lit(False)
        for v in cond.in_:
            hit = hit | col.str.split(";").list.contains(pl.lit(v))
    else:
        hit = col.is_in(list(cond.in_))
    hit = hit.fill_null(False)
    for other in f.unless_any:
        hit = hit & pl.col(other).is_null()
    return hit


def code_valid_expr(f: Field, e: pl.Expr) -> pl.Expr | None:
    """Validity of a code (null for null) by its ``code_kind``; None if not checkable."""
    from ..codes.expr import (  # noqa: PLC0415 - optional until the codes package lands
        industry_code_is_valid_expr,
        region_code_is_valid_expr,
        uscc_is_valid_expr,
    )

    fn = {
        "uscc": uscc_is_valid_expr,
        "region": region_code_is_valid_expr,
        "industry": industry_code_is_valid_expr,
    }.get(f.code_kind or "")
    return fn(e) if fn else None


def rule_checks(cat: Category, ctx: SchemaContext) -> list[RuleCheck]:
    """Every catalogue rule of ``cat`` as a vectorised check, in field then rule order."""
    out: list[RuleCheck] = []
    for f in cat.fields:
        label = _esc(f.label)
        col = pl.col(f.name)
        txt = pl.col(_value_col(f))
        present = txt.is_not_null()

        def add(rule: str, passes: pl.Expr, message: pl.Expr, _f: Field = f) -> None:
            out.append(RuleCheck(_f.name, rule, passes.fill_null(True), message))

        if f.required:
            add("required", present, _msg(f"「{label}」为必填项"))
        if f.required_when:
            cond = _esc(_condition_text(cat, f))
            add("required_when", present | ~_condition_expr(cat, f), _msg(f"「{label}」为必填项（{cond}）"))
        if f.is_enum:
            add("enum", ~present | col.is_not_null(), _msg(f"「{label}」的值不在代码表中：{{}}", txt))
        if f.type == "date":
            add("date_format", ~present | col.is_not_null(), _msg(f"「{label}」不是有效日期：{{}}", txt))
            if f.not_future:
                bd = ctx.batch_date
                add(
                    "date_future",
                    col.is_null() | (col <= pl.lit(bd)),
                    _msg(f"「{label}」晚于报送日期（{bd.isoformat()}）：{{}}", txt),
                )
            if f.not_before:
                other = cat.field(f.not_before)
                add(
                    "date_order",
                    col.is_null() | pl.col(other.name).is_null() | (col >= pl.col(other.name)),
                    _msg(
                        f"「{label}」早于「{_esc(other.label)}」：{{}} 早于 {{}}",
                        txt,
                        pl.col(text_col(other.name)),
                    ),
                )
            add(
                "date_range",
                col.is_null() | (col >= pl.lit(ctx.earliest)),
                _msg(f"「{label}」早于最早允许日期（{ctx.earliest.isoformat()}）：{{}}", txt),
            )
        if f.type in ("money", "int"):
            add("number_format", ~present | col.is_not_null(), _msg(f"「{label}」不是有效数字：{{}}", txt))
            if f.min is not None:
                mn = f.min
                add("min", col.is_null() | (col >= mn), _msg(f"「{label}」小于最小值 {mn:g}：{{}}", txt))
            mx = f.max_value(ctx.batch_date)
            if mx is not None:
                add("max", col.is_null() | (col <= mx), _msg(f"「{label}」大于最大值 {mx:g}：{{}}", txt))
        if has_valid_col(f):
            add(
                "code_invalid",
                col.is_null() | pl.col(valid_col(f.name)),
                _msg(f"「{label}」不是有效的代码：{{}}", txt),
            )
        if f.name == "subject_kind" and cat.subject_kinds:
            allowed = list(cat.subject_kinds)
            add(
                "subject_kind",
                col.is_null() | col.is_in(allowed),
                _msg(f"「{label}」不适用于{_esc(cat.name)}（仅限{_esc('、'.join(allowed))}）：{{}}", txt),
            )
    return out


def _check(rc: RuleCheck) -> pa.Check:
    import pandera.polars as pa

    expr = rc.passes

    def fn(data, _e=expr):  # PolarsData: (lazyframe, key)
        return data.lazyframe.select(_e)

    return pa.Check(fn, name=rc.rule)


def build_schema(category: Category, context: SchemaContext) -> pa.DataFrameSchema:
    """The pandera schema of ``category``'s validation frame for one delivery."""
    import pandera.polars as pa

    by_field: dict[str, list[pa.Check]] = {f.name: [] for f in category.fields}
    for rc in rule_checks(category, context):
        by_field[rc.field].append(_check(rc))
    columns: dict[str, pa.Column] = {}
    for f in category.fields:
        columns[f.name] = pa.Column(field_dtype(f), nullable=True, checks=by_field[f.name])
        if has_text_col(f):
            columns[text_col(f.name)] = pa.Column(pl.String, nullable=True)
        if has_valid_col(f):
            columns[valid_col(f.name)] = pa.Column(pl.Boolean, nullable=True)
    return pa.DataFrameSchema(
        columns,
        strict=False,
        coerce=False,
        name=f"{category.id}",
        title=category.name,
        description=f"{category.name}（{category.id}）校验规则，由信息采集目录生成",
    )


__all__ = [
    "RULE_ORDER",
    "RuleCheck",
    "SchemaContext",
    "build_schema",
    "field_dtype",
    "has_text_col",
    "rule_checks",
    "text_col",
    "valid_col",
    "code_valid_expr",
    "has_valid_col",
]
