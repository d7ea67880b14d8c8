"""Ingest: inbox → ``raw.<category>`` + ``audit.*``, with a rejection-rate check per
category, the inbox sensor, the daily schedule and the whole-graph job.

The library (``pipelines.ingest``) knows nothing of Dagster; this module only wires it."""


import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from pipelines.catalogue import load_catalogue
from pipelines.settings import Paths

from .pull import PULLED_BATCHES
from .resources import (
    DEFER_VACUUM_TAG,
    SCHEDULED_DELIVERY,
    WAREHOUSE_POOL,
    WarehouseResource,
    vacuum_in,
)

if TYPE_CHECKING:
    from pipelines.ingest.load import IngestReport

CATALOGUE = load_catalogue()
CHECK_NAME = "rows_and_rejection_rate"
AUDIT_TABLES = {
    "loads": "One row per delivered file: status loaded / duplicate_file / rejected_file, reason.",
    "row_outcomes": "Every data row of every readable file exactly once, with its outcome.",
    "rejected_rows": "Rejected rows with the reasons (Chinese) and the row as read.",
}


def raw_key(category: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", category])


def category_stats(report: "IngestReport", category: str) -> dict[str, float | int]:
    """The per-category counters of this run's ``IngestReport`` (zeros when the category
    had no new file)."""
    from pipelines.ingest.load import CategoryStats

    st = report.categories.get(category) or CategoryStats()
    return {
        "files": st.files,
        "rows_read": st.rows_read,
        "rows_loaded": st.rows_loaded,
        "rows_rejected": st.rows_rejected,
        "rows_duplicate": st.rows_duplicate,
        "rows_superseded": st.rows_superseded,
        "rejection_rate": round(st.rejection_rate, 6),
    }


def rejection_check(category: str, stats: Mapping[str, float | int], warn: float, error: float
                    ) -> dg.AssetCheckResult:
    rate = float(stats["rejection_rate"])
    metadata = {
        "rows_read": int(stats["rows_read"]),
        "rows_loaded": int(stats["rows_loaded"]),
        "rows_rejected": int(stats["rows_rejected"]),
        "rejection_rate": rate,
        "warn_above": warn,
        "error_above": error,
    }
    if rate > error:
        return dg.AssetCheckResult(
            asset_key=raw_key(category), check_name=CHECK_NAME, passed=False,
            severity=dg.AssetCheckSeverity.ERROR, metadata=metadata,
            description=f"拒收率 {rate:.1%} > {error:.0%}: most rows of this category were rejected.")
    if rate > warn:
        return dg.AssetCheckResult(
            asset_key=raw_key(category), check_name=CHECK_NAME, passed=False,
            severity=dg.AssetCheckSeverity.WARN, metadata=metadata,
            description=f"拒收率 {rate:.1%} > {warn:.0%}: see audit.rejected_rows.")
    return dg.AssetCheckResult(asset_key=raw_key(category), check_name=CHECK_NAME, passed=True,
                               metadata=metadata)


def _specs() -> list[dg.AssetSpec]:
    specs = [
        dg.AssetSpec(
            raw_key(cat.id),
            deps=[PULLED_BATCHES],
            description=f"{cat.name}: {cat.description}".strip(": ").strip(),
            group_name="ingest",
            kinds={"duckdb"},
            metadata={"category": cat.id, "category_name": cat.name,
                      "table": f"raw.{cat.id}"},
        )
        for cat in CATALOGUE.categories.values()
    ]
    specs += [
        dg.AssetSpec(["audit", name], deps=[PULLED_BATCHES], description=desc,
                     group_name="ingest", kinds={"duckdb"}, metadata={"table": f"audit.{name}"})
        for name, desc in AUDIT_TABLES.items()
    ]
    return specs


def _check_specs() -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(CHECK_NAME, asset=raw_key(cat.id),
                          description="Rows loaded and rejection rate (拒收率) in this run; "
                          "WARN above ingest.checks.rejection_rate_warn, ERROR above "
                          "rejection_rate_error (catalogs/ingest.yaml).")
        for cat in CATALOGUE.categories.values()
    ]


def _table_rows(con: Any, schema: str, table: str) -> int:
    """Rows in a table ``ingest_inbox`` created (``ensure_tables``)."""
    return int(con.execute(f'select count(*) from "{schema}"."{table}"').fetchall()[0][0])


def docs_in_run(context: dg.AssetExecutionContext) -> bool:
    """Whether this run also validates the new files for the Data Docs (``reports/data_docs``)."""
    from .quality import DATA_DOCS_KEY

    # The run's selection (empty when the run takes its whole job), else the job's assets.
    selected = context.run.asset_selection if context.run else None
    if not selected:
        selected = context.job_def.asset_layer.selected_asset_keys
    return DATA_DOCS_KEY in selected


def _stage_early_validation(context: dg.AssetExecutionContext, data_dir: Path, con: Any, catalogue: Any
                            ) -> dict[str, Any] | None:
    """When the run goes on to the Data Docs: the new files' frames staged for the
    early great-expectations worker (``pipelines.quality.early``), which validates them
    while code governance and dbt run. Never fails the ingestion: whatever is not
    validated early, the Data Docs step validates itself."""
    if not docs_in_run(context):
        return None
    from pipelines.quality import early

    try:
        out = early.stage(data_dir, con, catalogue)
    except Exception as e:  # noqa: BLE001 - an optimisation only
        context.log.warning(f"early validation not started ({e}): the Data Docs step validates the files")
        return {"staged": 0, "reason": str(e)}
    context.log.info(f"early validation: {out}")
    return out


@dg.multi_asset(
    name="ingest_inbox",
    specs=_specs(),
    check_specs=_check_specs(),
    pool=WAREHOUSE_POOL,
    description="Read every file of the inbox once, validate it against the 信息采集目录 and "
    "load raw.<category> + audit.*. Rejected rows and files are data, not failures.",
)
def ingest_inbox_asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    from pipelines.ingest import ingest_inbox
    from pipelines.ingest.validate import preload

    preload()  # pandera's import overlaps the warehouse's opening
    catalogue = load_catalogue()
    paths = warehouse.paths.ensure()
    warn = float(catalogue.setting("ingest.checks.rejection_rate_warn"))
    error = float(catalogue.setting("ingest.checks.rejection_rate_error"))
    with warehouse.connect(vacuum=vacuum_in(context)) as con:
        report = ingest_inbox(paths, catalogue, con=con)
        files = report.files
        by_status: dict[str, int] = {}
        for f in files:
            by_status[f.status] = by_status.get(f.status, 0) + 1
        context.log.info(f"ingest: {len(files)} file(s) {by_status}")
        for cat in CATALOGUE.categories.values():
            stats = category_stats(report, cat.id)
            meta: dict[str, Any] = dict(stats)
            meta["dagster/row_count"] = _table_rows(con, "raw", cat.id)
            yield dg.MaterializeResult(asset_key=raw_key(cat.id), metadata=meta)
            yield rejection_check(cat.id, stats, warn, error)
        early = _stage_early_validation(context, paths.data_dir, con, catalogue)
        for name in AUDIT_TABLES:
            meta: dict[str, Any] = {}
            if name == "loads":
                meta["files_new"] = sum(v for k, v in by_status.items() if k != "skipped")
                meta.update({f"files_{k}": v for k, v in sorted(by_status.items())})
                if early is not None:
                    meta["validated_early"] = dg.MetadataValue.json(early)
            meta["dagster/row_count"] = _table_rows(con, "audit", name)
            yield dg.MaterializeResult(asset_key=dg.AssetKey(["audit", name]), metadata=meta)


# --- the whole graph, its schedule and the inbox sensor ------------------------------

# Every asset of every stage: later stages (codes, dbt, extracts, quality) join in by
# being defined, with no change here.
credit_pipeline = dg.define_asset_job(
    "credit_pipeline",
    selection=dg.AssetSelection.all(),
    description="Pull, ingest, resolve codes, build the marts, grade, extract, report: "
    "the whole asset graph (what `credit run` materialises).",
)

# What a batch landing needs at once: everything but the assets delivered on schedule
# (tag credit/delivery=scheduled: the departments' extracts and the great-expectations
# Data Docs). The marts, `credit lookup`, the audit tables and the data-quality report
# take the batch in; the departments get their extracts and the auditors the new files'
# Data Docs from the next daily run (or `credit run`), not per landed file.
LANDING_SELECTION = dg.AssetSelection.all() - dg.AssetSelection.tag(*SCHEDULED_DELIVERY)
credit_landing = dg.define_asset_job(
    "credit_landing",
    selection=LANDING_SELECTION,
    description="When a batch lands (the inbox sensor, `credit run --landing`): pull, ingest, "
    "resolve codes, build the marts, report — the whole graph but the department extracts "
    "and the Data Docs, which are delivered on schedule (daily_ingest; the extracts also "
    "monthly_evaluation).",
    # its writers leave DuckDB's vacuum to the scheduled runs (resources.DEFER_VACUUM)
    run_tags=DEFER_VACUUM_TAG,
)

daily_ingest = dg.ScheduleDefinition(
    name="daily_ingest",
    job=credit_pipeline,
    cron_schedule="0 6 * * *",
    execution_timezone="Asia/Shanghai",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day at 06:00 (Beijing time): pull, ingest, rebuild everything and write "
    "every department's extract.",
)


def _deliveries(root: Path) -> dict[str, int]:
    """``department/batch/file`` → size for every file under ``root`` (two levels of
    folders). Relative path and size only: a batch pulled from ``sources/`` into the
    inbox keeps its fingerprint, so pulling does not trigger another run."""
    out: dict[str, int] = {}
    if not root.is_dir():
        return out
    for dept in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for batch in sorted(p for p in dept.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for f in sorted(batch.iterdir()):
                if f.is_file() and not f.name.startswith((".", "~$")):
                    try:
                        out[f"{dept.name}/{batch.name}/{f.name}"] = f.stat().st_size
                    except OSError:
                        continue
    return out


def inbox_fingerprint(paths: Paths) -> tuple[str, int]:
    """A fingerprint of every delivery seen in the inbox and the departments' sources,
    and how many files it covers."""
    seen = _deliveries(paths.sources)
    seen.update(_deliveries(paths.inbox))
    h = hashlib.sha256()
    for rel, size in sorted(seen.items()):
        h.update(f"{rel}\t{size}\n".encode())
    return h.hexdigest()[:32], len(seen)


@dg.sensor(
    name="inbox_sensor",
    job=credit_landing,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts credit_landing when a new batch lands in inbox/ or in a department's "
    "source folder (cursor: fingerprint of the files seen); the extracts follow on schedule.",
)
def inbox_sensor(context: dg.SensorEvaluationContext):
    paths = Paths.from_env()
    fingerprint, n = inbox_fingerprint(paths)
    if n == 0:
        return dg.SkipReason(f"no delivery in {paths.inbox} or {paths.sources}")
    if fingerprint == context.cursor:
        return dg.SkipReason(f"no new batch ({n} file(s) already seen)")
    context.update_cursor(fingerprint)
    return dg.RunRequest(run_key=f"inbox-{fingerprint}",
                         tags={"credit/trigger": "inbox_sensor", "credit/files_seen": str(n)})


defs = dg.Definitions(
    assets=[ingest_inbox_asset],
    jobs=[credit_pipeline, credit_landing],
    schedules=[daily_ingest],
    sensors=[inbox_sensor],
)

__all__ = ["defs", "inbox_fingerprint", "category_stats", "rejection_check", "raw_key"]
