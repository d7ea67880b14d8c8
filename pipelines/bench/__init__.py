"""Benchmarks (issue 3 "Speed", issue 7 "Performance at province scale").

- :mod:`pipelines.bench.codes` — vectorised code validation vs python-stdnum, and
  resolution of bad references against a large register.
- :mod:`pipelines.bench.pipeline` — the whole pipeline (demo data → ingest → codes → dbt
  → quality report → extracts) per stage, beside the DuckDB ``read_csv`` floor, plus a
  1 % incremental batch.
- :mod:`pipelines.bench.machine` — what the numbers were measured on (CPU, RAM, load),
  and a process-tree RSS sampler.

``scripts/bench.py`` (``make bench``) drives them and writes ``bench-output/*.json``.
"""
