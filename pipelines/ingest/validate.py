"""Validate a normalised frame with the pandera schema generated from the catalogue and
turn ``failure_cases`` into per-row Chinese reasons and rule ids."""

from __future__ import annotations

from typing import Any

import polars as pl

from ..catalogue import Category
from ..catalogue.schemas import RULE_ORDER, SchemaContext, build_schema, rule_checks

ROW = "__row"  # 0-based position in the validation frame


def preload() -> None:
    """Import pandera's polars API (a third of a second) in a background thread, while the
    caller opens the warehouse and lists the inbox: the first file's validation would
    otherwise import it on the preparing threads' path, the other thread waiting on the
    import lock. Idempotent; a failed import is raised again where pandera is used."""
    import sys
    import threading

    if "pandera.polars" in sys.modules:
        return

    def load() -> None:
        try:
            import pandera.polars  # noqa: F401
        except Exception:  # noqa: BLE001 — validation imports it again and reports it
            pass

    threading.Thread(target=load, name="pandera-import", daemon=True).start()


# (category id, context, None) -> (the category object, (its schema, its rule checks by
# (field, rule))); (category id, context, fields) -> (the category object, the schema of
# those fields' columns): the files of one category and batch date share one schema
# (building it takes longer than validating a small file). Bounded; a reloaded catalogue
# is not reused. Single dict operations only: safe from the ingest's preparing thread.
_SCHEMAS: dict[tuple[str, SchemaContext, tuple[str, ...] | None], tuple[Category, Any]] = {}
_SCHEMAS_MAX = 128


def _cached(category: Category, ctx: SchemaContext, fields: tuple[str, ...] | None, build: Any) -> Any:
    key = (category.id, ctx, fields)
    hit = _SCHEMAS.get(key)
    if hit is not None and hit[0] is category:
        return hit[1]
    value = build()
    if len(_SCHEMAS) >= _SCHEMAS_MAX:
        _SCHEMAS.clear()
    _SCHEMAS[key] = (category, value)
    return value


def _schema(category: Category, ctx: SchemaContext) -> tuple[Any, dict[tuple[str, str], Any]]:
    return _cached(category, ctx, None, lambda: (
        build_schema(category, ctx), {(rc.field, rc.rule): rc for rc in rule_checks(category, ctx)}))


def _subschema(category: Category, ctx: SchemaContext, fields: tuple[str, ...]) -> Any:
    """The catalogue schema of ``fields``' columns only."""
    return _cached(category, ctx, fields, lambda: _schema(category, ctx)[0].select_columns(list(fields)))


def failing_fields(frame: pl.DataFrame, checks: dict[tuple[str, str], Any]) -> tuple[str, ...]:
    """The fields (in ``checks``' order) with a rule that fails on at least one row: every
    check's expression — the very expression its pandera check evaluates — reduced to one
    boolean in a single polars pass over the frame."""
    if not checks:
        return ()
    rcs = list(checks.values())
    passed = frame.select([rc.passes.all().alias(f"c{i}") for i, rc in enumerate(rcs)]).row(0)
    return tuple(dict.fromkeys(rc.field for rc, ok in zip(rcs, passed, strict=True) if not ok))


FAILURES_SCHEMA = {"column": pl.String, "check": pl.String, "index": pl.Int64}


def _fits(frame: pl.DataFrame, schema: Any) -> bool:
    """Every column of ``schema`` is in ``frame`` with exactly the polars type it declares:
    then pandera's structure checks (column present, of its type; the schema is neither
    strict nor ordered) pass, and it need not run them (a few milliseconds of Python per
    file). False sends the frame through pandera, which decides (and explains)."""
    have = frame.schema
    return not schema.strict and not schema.ordered and all(
        name in have and have[name] == column.dtype.type for name, column in schema.columns.items())


def failure_cases(frame: pl.DataFrame, category: Category, ctx: SchemaContext) -> pl.DataFrame:
    """Pandera's ``failure_cases`` of the catalogue schema on ``frame``: ``column`` (the
    field), ``check`` (the rule id), ``index`` (0-based row), one row per failing cell.

    Two passes of the schema: its structure (every column there, of its type) on the whole
    frame, then its data checks on the columns of the fields that :func:`failing_fields`
    found failing somewhere. Pandera runs one query per check and column — a fixed cost
    per file that a small file pays many times over its rows — and a check whose
    expression holds on every row cannot fail in pandera either; so a clean file costs one
    polars pass, and a file with errors gets from pandera exactly the failures a run of
    the whole schema gives (``tests/ingest/test_equivalence.py``). A frame that does not fit
    the schema's structure is a defect of the normalisation, not of the delivery: error."""
    if frame.height == 0:
        return pl.DataFrame(schema=FAILURES_SCHEMA)
    import pandera.polars as pa  # lazily: a run with nothing to validate does not import it
    from pandera.config import ValidationDepth, config_context

    schema, checks = _schema(category, ctx)
    if not _fits(frame, schema):
        try:
            with config_context(validation_depth=ValidationDepth.SCHEMA_ONLY):
                schema.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as err:
            raise RuntimeError(f"{category.id}: the validation frame does not fit its pandera schema: "
                               f"{err.failure_cases.head(5)}") from err
    fields = failing_fields(frame, checks)
    if not fields:
        return pl.DataFrame(schema=FAILURES_SCHEMA)
    try:
        with config_context(validation_depth=ValidationDepth.DATA_ONLY):
            _subschema(category, ctx, fields).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        return err.failure_cases.select(pl.col(c).cast(t) for c, t in FAILURES_SCHEMA.items())
    return pl.DataFrame(schema=FAILURES_SCHEMA)


def validate_frame(frame: pl.DataFrame, category: Category, ctx: SchemaContext) -> pl.DataFrame:
    """Rows failing at least one rule: ``__row`` (0-based), ``reasons`` (one sentence per
    failed rule, joined by ``；``), ``rule_ids`` (list, in rule order), from
    :func:`failure_cases`."""
    empty = pl.DataFrame(
        schema={ROW: pl.Int64, "reasons": pl.String, "rule_ids": pl.List(pl.String)}
    )
    fc = failure_cases(frame, category, ctx)
    if fc.height == 0:
        return empty
    _, checks = _schema(category, ctx)
    field_pos = {f.name: i for i, f in enumerate(category.fields)}
    rule_pos = {r: i for i, r in enumerate(RULE_ORDER)}
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
