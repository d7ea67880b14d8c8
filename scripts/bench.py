"""Benchmark driver (`make bench`): runs the stage benchmarks and writes one JSON file
per benchmark to bench-output/.

- ingest:   one N-row admin_penalty CSV, `ingest_inbox` vs DuckDB read_csv
- codes:    1M USCCs through the polars validators vs python-stdnum; 100k bad references
            resolved against a 1M-subject register (pipelines.bench.codes)
- pipeline: demo data → credit run per stage (wall, rows/s, peak RSS) beside the DuckDB
            read_csv floor, then a 1 % incremental batch (pipelines.bench.pipeline)

`--subjects N` sets the pipeline scale (default 1 000 000 subjects), `--records R` its
input rows (default about 10 per subject: 10M), `--quick` is the CI scale (100 000
subjects, 1M records, 100k codes). `--render` prints the markdown tables of
docs/performance.md from the JSON files already in bench-output/.
Each benchmark is called with the output folder and returns a JSON-able dict.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-output"
# name → "module:function"
BENCHMARKS = {
    "ingest": "pipelines.ingest.bench:bench_ingest",
    "codes": "pipelines.bench.codes:bench_codes",
    "pipeline": "pipelines.bench.pipeline:bench_pipeline",
}
FULL = {"subjects": 1_000_000, "records": 10_000_000, "rows": 1_000_000, "codes": 1_000_000, "register": 1_000_000,
        "refs": 100_000}
QUICK = {"subjects": 100_000, "records": 1_000_000, "rows": 100_000, "codes": 100_000, "register": 100_000,
         "refs": 10_000}


def _load(target: str):
    mod_name, func = target.split(":")
    try:
        return getattr(importlib.import_module(mod_name), func)
    except (ImportError, AttributeError):
        return None


def _call(fn, out_dir: Path, argv_kwargs: dict):
    params = inspect.signature(fn).parameters
    kwargs = {k: v for k, v in argv_kwargs.items() if k in params and v is not None}
    for name in ("out_dir", "output_dir", "work_dir", "workdir"):
        if name in params:
            kwargs[name] = out_dir
    return fn(**kwargs)


def main(argv: list[str] | None = None) -> int:
    for k, v in {"DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "GX_ANALYTICS_ENABLED": "False",
                 "DAGSTER_DISABLE_TELEMETRY": "1"}.items():
        os.environ.setdefault(k, v)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=sorted(BENCHMARKS), action="append")
    p.add_argument("--subjects", type=int, default=None,
                   help="pipeline scale (default 1000000; --quick 100000)")
    p.add_argument("--records", type=int, default=None,
                   help="pipeline input rows to generate, about (default 10 per subject: 10000000; "
                   "--quick 1000000)")
    p.add_argument("--quick", action="store_true", help="CI scale: 100k subjects, 100k codes")
    p.add_argument("--no-incremental", action="store_true", help="skip the 1 %% incremental re-run")
    p.add_argument("--render", action="store_true",
                   help="print the docs/performance.md tables from bench-output/*.json and exit")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.render:
        from pipelines.bench.report import render_markdown

        print(render_markdown(args.out))
        return 0
    sizes = dict(QUICK if args.quick else FULL)
    if args.subjects:
        sizes["subjects"] = args.subjects
        if not args.records:
            sizes["records"] = 10 * args.subjects
    if args.records:
        sizes["records"] = args.records
    if args.no_incremental:
        sizes["incremental"] = False
    ran = 0
    for name, target in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        fn = _load(target)
        if fn is None:
            print(f"bench {name}: {target} not available yet — skipped")
            continue
        t0 = time.perf_counter()
        result = _call(fn, args.out / name, sizes)
        elapsed = time.perf_counter() - t0
        if hasattr(result, "model_dump"):
            result = result.model_dump()
        elif hasattr(result, "__dataclass_fields__"):
            import dataclasses
            result = dataclasses.asdict(result)
        record = {
            "benchmark": name,
            "wall_seconds": round(elapsed, 3),
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "result": result,
        }
        path = args.out / (f"{name}-{sizes['subjects']}.json" if name == "pipeline" else f"{name}.json")
        path.write_text(json.dumps(record, ensure_ascii=False, indent=2, default=str),
                        encoding="utf-8")
        print(f"bench {name}: {elapsed:.1f} s → {path}")
        ran += 1
    if not ran:
        print("no benchmark available yet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
