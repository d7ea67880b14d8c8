"""Order-free fingerprints of warehouse tables: per table, the row count and the sum of a
64-bit hash of every row (DuckDB ``hash`` of the row's columns). Equal tables (as
multisets of rows) give equal fingerprints; different ones differ unless two sums of
hashes collide. Streaming aggregates: cheap enough for tables of tens of millions of rows.

Used to check that a delta build equals a full build (tests, and on a copy of a
province-scale warehouse):

    uv run python -m pipelines.warehouse.fingerprint A.duckdb B.duckdb
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import duckdb

# Columns that record when a row was written, not what it says.
VOLATILE = frozenset({"evaluated_at"})
# The evaluation models and marts (dbt): what a delta build must leave as a full build does.
EVALUATION_SCHEMAS = ("intermediate", "marts")


def table_fingerprints(con: duckdb.DuckDBPyConnection, schemas: Iterable[str] = EVALUATION_SCHEMAS,
                       exclude_tables: Iterable[str] = ("int_delta_subjects",),
                       exclude_columns: Iterable[str] = VOLATILE) -> dict[str, tuple[int, int]]:
    """``schema.table`` → (rows, sum of row hashes) for every base table of ``schemas``."""
    schemas, skip_t, skip_c = list(schemas), set(exclude_tables), set(exclude_columns)
    marks = ", ".join("?" for _ in schemas)
    tables = con.execute(
        f"SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = current_database() "
        f"AND table_schema IN ({marks}) AND table_type = 'BASE TABLE' ORDER BY 1, 2", schemas).fetchall()
    out: dict[str, tuple[int, int]] = {}
    for schema, table in tables:
        if table in skip_t:
            continue
        cols = [c for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_catalog = current_database() "
            "AND table_schema = ? AND table_name = ? ORDER BY ordinal_position", [schema, table]).fetchall()
            if c not in skip_c]
        row = ", ".join('"' + c.replace('"', '""') + '"' for c in cols)
        n, h = con.execute(f'SELECT count(*), coalesce(sum(hash({row})::HUGEINT), 0) FROM "{schema}"."{table}"'
                           ).fetchall()[0]
        out[f"{schema}.{table}"] = (int(n), int(h))
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m pipelines.warehouse.fingerprint A.duckdb B.duckdb", file=sys.stderr)
        return 2
    prints = []
    for path in args:
        with duckdb.connect(path, read_only=True) as con:
            prints.append(table_fingerprints(con))
    a, b = prints
    different = [t for t in sorted(set(a) | set(b)) if a.get(t) != b.get(t)]
    for t in sorted(set(a) | set(b)):
        print(f"{t:45} {a.get(t)!s:>40} {'==' if t not in different else '!='} {b.get(t)}")
    print("IDENTICAL" if not different else f"DIFFERENT: {', '.join(different)}")
    return 1 if different else 0


if __name__ == "__main__":
    raise SystemExit(main())
