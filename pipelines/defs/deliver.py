"""Stage `deliver`: the department extracts (一公开 + scheduled push) and the monthly
evaluation schedule.

* The sampling models (``marts.sampling_plan``, ``marts.inspection_draw`` …) are dbt
  models: their assets come from ``transform.py`` (keys ``["marts", <model>]``).
* ``["exports", "department_extracts"]`` is partitioned by department
  (``catalogs/departments.yaml``) so one department can be re-sent alone
  (job ``department_extracts``). Run unpartitioned (the whole-graph ``credit_pipeline``
  / ``credit run``, the monthly evaluation) it writes every department.
* Extracts are delivered on schedule, not whenever a batch lands: the asset carries the
  tag ``credit/delivery=scheduled``, which the inbox sensor's ``credit_landing`` job
  leaves out (``pipelines/defs/ingest.py``). ``credit run``, ``daily_ingest`` (06:00)
  and the monthly evaluation write them.
* ``monthly_evaluation_schedule``: on the 1st at 05:00 Beijing time, grade as of that
  day (dbt) and then write every department's extract — one run, in dependency order.
* Check ``draw_reproducible``: the published draw is re-drawn from seed, period and codes
  (``pipelines.deliver.redraw``) and must match.

The library (``pipelines.deliver``) knows nothing of Dagster; this module only wires it."""


import datetime as dt
import os

import dagster as dg

from pipelines.catalogue import load_catalogue
from pipelines.deliver import extracts, redraw
from pipelines.settings import Paths

from .resources import SCHEDULED_DELIVERY_TAG, WAREHOUSE_POOL, WarehouseResource

AS_OF_ENV = "CREDIT_AS_OF"
AS_OF_TAG = "credit/as_of"
EXTRACTS_KEY = dg.AssetKey(["exports", "department_extracts"])
MARTS = ("credit_grades", "subjects", "sampling_plan", "sampling_candidates", "sampling_roster",
         "inspection_draw")
DEPARTMENTS = dg.StaticPartitionsDefinition(list(load_catalogue().departments))
CHECK_NAME = "draw_reproducible"


class ExtractConfig(dg.Config):
    as_of: str | None = None
    """Evaluation date YYYY-MM-DD (default: tag credit/as_of, $CREDIT_AS_OF, else the
    latest evaluation in marts.credit_grades)."""


def extract_as_of(config_as_of: str | None, tags: dict[str, str] | None) -> str | None:
    for candidate in (config_as_of, (tags or {}).get(AS_OF_TAG), os.environ.get(AS_OF_ENV)):
        if candidate:
            return dt.date.fromisoformat(str(candidate).strip()).isoformat()
    return None


@dg.asset(
    key=EXTRACTS_KEY,
    partitions_def=DEPARTMENTS,
    deps=[dg.AssetKey(["marts", m]) for m in MARTS],
    pool=WAREHOUSE_POOL,  # publishes draws into deliver.* as well as writing files
    group_name="deliver",
    kinds={"csv", "xlsx", "parquet"},
    tags=SCHEDULED_DELIVERY_TAG,  # not in the landing job: departments get it on schedule
    check_specs=[dg.AssetCheckSpec(CHECK_NAME, asset=EXTRACTS_KEY,
                                   description="The published 双随机 draw re-draws identically "
                                               "from its seed, period and codes.")],
    description="exports/<department>/<as_of>/: grade list of the department's scope, its "
                "published 双随机 draw and its code-correction list (CSV with BOM, XLSX, "
                "Parquet) and manifest.json.",
)
def department_extracts(context: dg.AssetExecutionContext, config: ExtractConfig,
                        warehouse: WarehouseResource):
    departments = [context.partition_key] if context.has_partition_key else DEPARTMENTS.get_partition_keys()
    as_of = extract_as_of(config.as_of, context.run.tags if context.run else None)
    exports_dir = warehouse.paths.exports
    written, mismatches = [], []
    with warehouse.connect(read_only=False) as con:
        for dept in departments:
            res = extracts.write_department_extract(con, dept, as_of, exports_dir)
            as_of = res.as_of
            written.append(res)
            if res.draw is not None:
                check = redraw.redraw(con, dept, res.draw.period, res.draw.version)
                if not check.matches:
                    mismatches.append(check.summary())
            context.log.info(f"{dept}: {res.path} ({'written' if res.written else 'unchanged, kept'}; draw "
                             f"{'v' + str(res.draw.version) + ' ' + res.draw.status if res.draw else 'none'})")
            if not context.has_partition_key:
                context.log_event(dg.AssetMaterialization(
                    asset_key=EXTRACTS_KEY, partition=dept,
                    metadata={"path": dg.MetadataValue.path(str(res.path)), "as_of": res.as_of}))
    yield dg.MaterializeResult(
        asset_key=EXTRACTS_KEY,
        metadata={
            "as_of": as_of or "",
            "departments": ", ".join(departments),
            "files": sum(len(r.manifest["files"]) + 1 for r in written),
            "unchanged": ", ".join(r.department_code for r in written if not r.written) or "none",
            "draws": ", ".join(f"{r.department_code} v{r.draw.version} ({r.draw.rows})"
                               for r in written if r.draw) or "none",
            "path": dg.MetadataValue.path(str(exports_dir)),
        },
    )
    yield dg.AssetCheckResult(
        asset_key=EXTRACTS_KEY, check_name=CHECK_NAME, passed=not mismatches,
        severity=dg.AssetCheckSeverity.ERROR,
        description="\n".join(mismatches) or "every published draw re-draws identically",
    )


department_extracts_job = dg.define_asset_job(
    "department_extracts",
    selection=dg.AssetSelection.assets(EXTRACTS_KEY),  # partitioned like the asset
    description="Re-send one department's extract (pick the department partition).",
)

# Grades (the dbt graph up to the marts the extracts read) then the extracts; ingestion
# and code resolution are not re-run here (the daily pipeline does that).
monthly_evaluation_job = dg.define_asset_job(
    "monthly_evaluation",
    selection=dg.AssetSelection.assets(EXTRACTS_KEY).upstream()
    - dg.AssetSelection.key_prefixes("raw", "audit", "codes", "inbox"),
    description="Monthly evaluation: grade as of the 1st (dbt), then every department's extract.",
)


@dg.schedule(
    name="monthly_evaluation_schedule",
    job=monthly_evaluation_job,
    cron_schedule="0 5 1 * *",
    execution_timezone="Asia/Shanghai",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="The 1st of every month at 05:00 (Beijing time): evaluation as of that day, "
                "then the department extracts.",
)
def monthly_evaluation_schedule(context: dg.ScheduleEvaluationContext):
    as_of = context.scheduled_execution_time.date().isoformat()
    return dg.RunRequest(run_key=f"evaluation-{as_of}",
                         tags={AS_OF_TAG: as_of, "credit/trigger": "monthly_evaluation_schedule"})


defs = dg.Definitions(
    assets=[department_extracts],
    jobs=[department_extracts_job, monthly_evaluation_job],
    schedules=[monthly_evaluation_schedule],
)

__all__ = ["defs", "department_extracts", "DEPARTMENTS", "monthly_evaluation_schedule", "Paths"]
