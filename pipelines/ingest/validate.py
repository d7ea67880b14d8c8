"""Validate a normalised frame with the pandera schema generated from the catalogue and
turn ``failure_cases`` into per-row Chinese reasons and rule ids."""

from __future__ import annotations

from typing import Any

import polars as pl

from ..catalogue import Category
from ..catalogue.schemas import RULE_ORDER, SchemaContext, build_schema, rule_checks

ROW = "__row"  # 0-based position in the validation frame


# (category id, context) -> (the category object, its schema, its rule checks by (field,
# rule)): the files of one category and batch date share one schema (building it takes
# longer than validating a small file). Bounded; a reloaded catalogue is not reused.
# Single dict operations only: safe from the ingest's preparing thread.
_SCHEMAS: dict[tuple[str, SchemaContext], tuple[Category, Any, dict[tuple[str, str], Any]]] = {}
_SCHEMAS_MAX = 64


def _schema(category: Category, ctx: SchemaContext) -> tuple[Any, dict[tuple[str, str], Any]]:
    hit = _SCHEMAS.get((category.id, ctx))
    if hit is not None and hit[0] is category:
        return hit[1], hit[2]
    schema = build_schema(category, ctx)
    checks = {(rc.field, rc.rule): rc for rc in rule_checks(category, ctx)}
    if len(_SCHEMAS) >= _SCHEMAS_MAX:
        _SCHEMAS.clear()
    _SCHEMAS[(category.id, ctx)] = (category, schema, checks)
    return schema, checks


def validate_frame(frame: pl.DataFrame, category: Category, ctx: SchemaContext) -> pl.DataFrame:
    """Rows failing at least one rule: ``__row`` (0-based), ``reasons`` (one sentence per
    failed rule, joined by ``；``), ``rule_ids`` (list, in rule order)."""
    empty = pl.DataFrame(
        schema={ROW: pl.Int64, "reasons": pl.String, "rule_ids": pl.List(pl.String)}
    )
    if frame.height == 0:
        return empty
    import pandera.polars as pa  # lazily: a run with nothing to validate does not import it

    schema, checks = _schema(category, ctx)
    try:
        schema.validate(frame, lazy=True)
        return empty
    except pa.errors.SchemaErrors as err:
        fc = err.failure_cases
    field_pos = {f.name: i for i, f in enumerate(category.fields)}
    rule_pos = {r: i for i, r in enumerate(RULE_ORDER)}
    fc = fc.select(
        pl.col("column").cast(pl.String),
        pl.col("check").cast(pl.String),
        pl.col("index").cast(pl.Int64),
    )
    pairs = set(fc.select("column", "check").unique().rows())
    unexplained = [p for p in pairs if p not in checks]
    if unexplained or fc["index"].null_count():
        raise RuntimeError(f"{category.id}: pandera failures outside the catalogue rules: {unexplained} {fc.head(5)}")
    parts: list[pl.DataFrame] = []
    for (col, rule), grp in fc.group_by(["column", "check"], maintain_order=True):
        rc = checks[(col, rule)]
        idx = grp["index"].unique().sort()
        msgs = frame[idx].with_columns(rc.message.alias("__msg"))["__msg"]
        parts.append(
            pl.DataFrame(
                {
                    ROW: idx,
                    "rule": pl.Series([rule] * len(idx), dtype=pl.String),
                    "msg": msgs,
                    "order": pl.Series([field_pos[col] * 100 + rule_pos[rule]] * len(idx), dtype=pl.Int64),
                }
            )
        )
    long = pl.concat(parts).sort(ROW, "order")
    return long.group_by(ROW, maintain_order=True).agg(
        pl.col("msg").str.join("；").alias("reasons"),
        pl.col("rule").unique(maintain_order=True).alias("rule_ids"),
    )
