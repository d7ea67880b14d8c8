"""What the analysts' notebooks share: the warehouse path, short-lived read-only queries
and the grade colours. A pipeline run needs DuckDB's write lock, so no notebook keeps a
connection open."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipelines.settings import Paths

GRADE_ORDER = ["A", "B", "C", "D"]
GRADE_HEX = ["#2e7d32", "#1565c0", "#ef6c00", "#c62828"]


def warehouse() -> Path:
    return Paths.from_env().warehouse


def query(sql: str, params: list[Any] | None = None) -> pl.DataFrame:
    """One query on a short-lived read-only connection."""
    with duckdb.connect(str(warehouse()), read_only=True) as con:
        return con.sql(sql, params=params or None).pl()


def grade_colors() -> Any:
    """An altair colour scale for grades A–D."""
    import altair as alt

    return alt.Scale(domain=GRADE_ORDER, range=GRADE_HEX)
