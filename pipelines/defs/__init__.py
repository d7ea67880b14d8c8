"""What Dagster sees: one module per stage (``pull``, ``ingest``, ``codes``, ``transform``,
``deliver``, ``quality``). ``pipelines/definitions.py`` collects every module here, so a
stage is added by adding a file.

Convention for a stage module: expose ``defs = dg.Definitions(...)`` with its assets,
checks, schedules, sensors and jobs. A module without ``defs`` is loaded by scanning its
top-level Dagster objects. Shared resources live in ``resources.py``; every asset that
writes the warehouse uses ``pool=WAREHOUSE_POOL`` ("duckdb_writer")."""
