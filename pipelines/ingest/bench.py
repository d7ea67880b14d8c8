"""Ingestion benchmark: an N-row admin_penalty CSV, DuckDB's own ``read_csv`` into a
table (the floor) vs :func:`ingest_inbox` on the same file.

    uv run python -m pipelines.ingest.bench 1000000 /tmp/bench
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import time
from pathlib import Path

import duckdb
import polars as pl

from ..catalogue import load_catalogue
from ..settings import Paths

_USCC = ["91350100M000100Y43", "91110000600037341L", "91310115MA1K3BTP2B", "9144030071526726XG"]


def make_penalty_csv(path: Path, rows: int, seed: int = 7) -> Path:
    """A realistic admin_penalty delivery (Chinese labels, ~2% bad rows), vectorised."""
    i = pl.int_range(0, rows, eager=True)
    day = (i * 7919 % 3000).cast(pl.Int32)
    decided = (pl.lit(dt.date(2017, 1, 1)) + pl.duration(days=day)).alias("d")
    df = pl.DataFrame({"i": i}).with_columns(decided).select(
        pl.format("测试企业{}有限公司", pl.col("i")).alias("行政相对人名称"),
        pl.lit("法人及非法人组织").alias("行政相对人类别"),
        pl.lit(_USCC)
        .list.get((pl.col("i") % len(_USCC)).cast(pl.Int64))
        .alias("统一社会信用代码"),
        pl.lit("张三").alias("法定代表人"),
        pl.format("测市监罚〔{}〕{}号", pl.col("d").dt.year(), pl.col("i")).alias("行政处罚决定书文号"),
        pl.lit("虚假宣传").alias("违法行为类型"),
        pl.lit("在其经营场所发布虚假广告，误导消费者").alias("违法事实"),
        pl.lit("《中华人民共和国广告法》第五十五条").alias("处罚依据"),
        pl.when(pl.col("i") % 3 == 0).then(pl.lit("警告")).otherwise(pl.lit("警告、罚款")).alias("处罚类别"),
        pl.lit("警告并处罚款").alias("处罚内容"),
        pl.when(pl.col("i") % 3 == 0).then(None).otherwise(((pl.col("i") % 500) / 10).cast(pl.String)).alias("罚款金额（万元）"),
        pl.when(pl.col("i") % 50 == 7).then(pl.lit("2023-02-30")).otherwise(
            pl.when(pl.col("i") % 2 == 0).then(pl.col("d").dt.to_string("%Y-%m-%d")).otherwise(
                pl.col("d").dt.to_string("%Y年%-m月%-d日")
            )
        ).alias("处罚决定日期"),
        pl.lit("测试市市场监督管理局").alias("处罚机关"),
        pl.lit("91350100M000100Y43").alias("处罚机关统一社会信用代码"),
        pl.lit("测试市市场监督管理局").alias("数据来源单位"),
        pl.lit("91350100M000100Y43").alias("数据来源单位统一社会信用代码"),
        pl.lit("食品").alias("领域"),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    df.write_csv(path)
    return path


def bench_ingest(rows: int, workdir: Path | str, *, key: bytes = b"bench-key") -> dict:
    from . import ingest_inbox

    workdir = Path(workdir)
    if workdir.exists():
        shutil.rmtree(workdir)
    paths = Paths(workdir / "data").ensure()
    csv = make_penalty_csv(paths.inbox / "scjg" / "20260301" / "admin_penalty.csv", rows)
    size = csv.stat().st_size

    floor_db = workdir / "floor.duckdb"
    t0 = time.perf_counter()
    with duckdb.connect(str(floor_db)) as con:
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{csv}', all_varchar = true)")
    floor = time.perf_counter() - t0

    cat = load_catalogue()
    t0 = time.perf_counter()
    report = ingest_inbox(paths, cat, key=key)
    ours = time.perf_counter() - t0
    st = report.categories["admin_penalty"]
    return {
        "rows": rows,
        "csv_mb": round(size / 1e6, 1),
        "duckdb_read_csv_s": round(floor, 3),
        "ingest_s": round(ours, 3),
        "duckdb_rows_per_s": round(rows / floor),
        "ingest_rows_per_s": round(rows / ours),
        "ratio": round(ours / floor, 2),
        "rows_loaded": st.rows_loaded,
        "rows_rejected": st.rows_rejected,
    }


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    wd = sys.argv[2] if len(sys.argv) > 2 else "/tmp/credit-ingest-bench"
    print(bench_ingest(n, wd))
