"""Benchmark driver (`make bench`): runs the stage benchmarks that exist and writes one
JSON file per benchmark to bench-output/.

Today: ingestion (`pipelines.ingest.bench.bench_ingest`). A later stage adds an entry to
BENCHMARKS. Each benchmark is called with the output folder and returns a JSON-able dict.
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
}


def _load(target: str):
    mod_name, func = target.split(":")
    try:
        return getattr(importlib.import_module(mod_name), func)
    except (ImportError, AttributeError):
        return None


def _call(fn, out_dir: Path, argv_kwargs: dict):
    params = inspect.signature(fn).parameters
    kwargs = {k: v for k, v in argv_kwargs.items() if k in params and v is not None}
    for name in ("out_dir", "output_dir", "work_dir"):
        if name in params:
            kwargs[name] = out_dir
    return fn(**kwargs)


def main(argv: list[str] | None = None) -> int:
    for k, v in {"DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "GX_ANALYTICS_ENABLED": "False",
                 "DAGSTER_DISABLE_TELEMETRY": "1"}.items():
        os.environ.setdefault(k, v)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=sorted(BENCHMARKS), action="append")
    p.add_argument("--subjects", type=int, default=None)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    ran = 0
    for name, target in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        fn = _load(target)
        if fn is None:
            print(f"bench {name}: {target} not available yet — skipped")
            continue
        t0 = time.perf_counter()
        result = _call(fn, args.out / name, {"subjects": args.subjects})
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
        path = args.out / f"{name}.json"
        path.write_text(json.dumps(record, ensure_ascii=False, indent=2, default=str),
                        encoding="utf-8")
        print(f"bench {name}: {elapsed:.1f} s → {path}")
        ran += 1
    if not ran:
        print("no benchmark available yet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
