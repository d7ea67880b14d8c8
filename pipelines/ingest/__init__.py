"""Ingestion: discover, pull, read, map headers, normalise, validate, load with outcomes.

No Dagster here; ``pipelines/defs/ingest.py`` wraps it into assets.

    from pipelines.ingest import ingest_inbox, pull_sources
    report = ingest_inbox(Paths.from_env().ensure(), load_catalogue())
"""

from .discover import InboxFile, discover
from .load import CategoryStats, FileResult, IngestReport, ensure_tables, ingest_inbox, raw_columns
from .pull import PulledBatch, pull_sources

__all__ = [
    "CategoryStats",
    "FileResult",
    "InboxFile",
    "IngestReport",
    "PulledBatch",
    "discover",
    "ensure_tables",
    "ingest_inbox",
    "pull_sources",
    "raw_columns",
]
