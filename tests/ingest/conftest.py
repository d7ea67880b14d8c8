from ingest_helpers import catalogue, paths  # noqa: F401  (fixtures)
