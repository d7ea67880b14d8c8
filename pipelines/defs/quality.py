"""Dagster: the data-quality report and the validation documentation.

Asset ``["reports", "data_docs"]`` (数据校验文档) validates the newly delivered files with
great-expectations (or collects what the early worker, started by the ingest step,
validated while code governance and dbt ran: ``pipelines.quality.early``) and renders the
offline Data Docs under ``reports/gx/``. It is delivered on schedule (tag
``credit/delivery=scheduled``, like the departments' extracts): the daily run
(``daily_ingest``) and ``credit run`` validate every file not validated yet
(``reports/gx/validated_batches.json``); a landing run (``credit_landing``, the inbox
sensor) leaves it to them, since at about 0.4 s a file whatever its size it was the
largest part of a landing (docs/performance.md, *Data Docs on schedule*). Every row is
still checked on arrival by the ingest step's pandera schemas.

Asset ``["reports", "data_quality"]`` (after ingestion and code governance, and after the
Data Docs when a run builds both) computes the scorecard (incrementally:
``reports/quality/.state/``, see ``pipelines.quality.incremental``) and writes
``reports/quality/<as_of>/``, linking the Data Docs.
Asset checks: a department below a ``quality.thresholds.min`` fails (ERROR), above a
``quality.thresholds.max`` warns (WARN).

Both only read the warehouse, but DuckDB refuses a reader while another process writes,
so they queue in the ``duckdb_writer`` pool like the writers.
"""


import datetime as dt
import os
from typing import Any

import dagster as dg

from pipelines.catalogue import load_catalogue

from .resources import SCHEDULED_DELIVERY_TAG, WAREHOUSE_POOL, WarehouseResource

REPORT_KEY = dg.AssetKey(["reports", "data_quality"])
DATA_DOCS_KEY = dg.AssetKey(["reports", "data_docs"])
AS_OF_TAG = "credit/as_of"
_DEP_LABEL = {"min": "低于下限", "max": "高于上限"}


def _catalogue():
    return load_catalogue()


def _threshold_keys() -> tuple[list[str], list[str]]:
    try:
        t = _catalogue().setting("quality.thresholds")
    except Exception:  # noqa: BLE001 - a broken catalogue is reported by the ingest stage
        return [], []
    return list((t or {}).get("min", {}) or {}), list((t or {}).get("max", {}) or {})


def _deps() -> list[dg.AssetKey]:
    keys = [dg.AssetKey(["audit", "loads"]), dg.AssetKey(["codes", "subject_refs"])]
    try:
        keys += [dg.AssetKey(["raw", c]) for c in _catalogue().categories]
    except Exception:  # noqa: BLE001
        pass
    return keys


def _check_specs() -> list[dg.AssetCheckSpec]:
    mins, maxs = _threshold_keys()
    specs = [
        dg.AssetCheckSpec(f"min_{k}", asset=REPORT_KEY, description=f"各部门 {k} 不低于 quality.thresholds.min.{k}（否则 ERROR）")
        for k in mins
    ]
    specs += [
        dg.AssetCheckSpec(f"max_{k}", asset=REPORT_KEY, description=f"各部门 {k} 不高于 quality.thresholds.max.{k}（否则 WARN）")
        for k in maxs
    ]
    return specs


class QualityConfig(dg.Config):
    as_of: str | None = None
    """Evaluation date YYYY-MM-DD (default: run tag credit/as_of, $CREDIT_AS_OF, today)."""
    revalidate: bool = False
    """Recompute the whole scorecard and every department's rejected rows (default: the
    counts and masked rows kept from earlier runs are reused). Validating the files again
    is the ``revalidate`` of ``reports/data_docs``."""


def _as_of(config: QualityConfig, tags: dict[str, str]) -> dt.date:
    for c in (config.as_of, tags.get(AS_OF_TAG), os.environ.get("CREDIT_AS_OF")):
        if c:
            return dt.date.fromisoformat(c)
    return dt.date.today()


def check_results(scorecard, thresholds: dict[str, Any]) -> list[dg.AssetCheckResult]:
    """One result per threshold: passed unless a department (or overall) breaches it."""
    results = []
    for kind, severity in (("min", dg.AssetCheckSeverity.ERROR), ("max", dg.AssetCheckSeverity.WARN)):
        for key, limit in (thresholds.get(kind) or {}).items():
            bad = {}
            for d in scorecard.departments:
                for b in d["breaches"]:
                    if b["key"] == key and b["kind"] == kind:
                        bad[d["code"]] = round(float(b["value"]), 4)
            results.append(
                dg.AssetCheckResult(
                    check_name=f"{kind}_{key}",
                    asset_key=REPORT_KEY,
                    passed=not bad,
                    severity=severity,
                    metadata={"limit": float(limit), "departments": dg.MetadataValue.json(bad),
                              "说明": f"{key}{_DEP_LABEL[kind]} {limit} 的部门"},
                )
            )
    return results


class ValidationConfig(dg.Config):
    revalidate: bool = False
    """Validate every delivered file again and render the whole Data Docs site (default:
    only the files not validated before, and their pages)."""


@dg.asset(
    key=DATA_DOCS_KEY,
    deps=_deps(),
    group_name="reports",
    kinds={"great_expectations", "html"},
    tags=SCHEDULED_DELIVERY_TAG,  # not in the landing job: validated on schedule
    pool=WAREHOUSE_POOL,
    description="数据校验文档：great-expectations 按目录逐文件校验新报送的数据，生成离线 Data Docs"
                "（reports/gx/）。随每日作业（daily_ingest）和 credit run 生成；数据落地即触发的作业不含此项。",
)
def data_docs(context: dg.AssetExecutionContext, config: ValidationConfig, warehouse: WarehouseResource):
    from pipelines.quality import early
    from pipelines.quality.gx_suites import run_validations

    catalogue = _catalogue()
    data_dir = warehouse.paths.data_dir
    with early.waiting(data_dir, catalogue) as waited, warehouse.connect(read_only=True) as con:
        gx = run_validations(data_dir, con, catalogue, force=config.revalidate)
    return dg.MaterializeResult(
        metadata={
            "data_docs": dg.MetadataValue.path(str(gx["docs"])),
            "files_validated": len(gx["validated"]),
            # of which validated by the early worker while code governance and dbt ran,
            # and how long this step waited for it
            "files_validated_early": gx["validated_early"],
            "early_wait_seconds": float(waited["waited"]),
            "files_failing_expectations": sum(1 for v in gx["validated"] if not v["success"]),
            "docs_build": gx["docs_build"],
        },
    )


@dg.multi_asset(
    specs=[dg.AssetSpec(REPORT_KEY, deps=[*_deps(), DATA_DOCS_KEY], group_name="reports",
                        description="数据质量报告（自包含 HTML）：各部门完整性、有效性、唯一性、及时性、"
                                    "一致性评分与退回明细，并链接数据校验文档",
                        kinds={"html"})],
    check_specs=_check_specs(),
    pool=WAREHOUSE_POOL,
)
def data_quality_report(context: dg.AssetExecutionContext, config: QualityConfig, warehouse: WarehouseResource):
    from pipelines.quality.gx_suites import docs_index
    from pipelines.quality.incremental import rejected_state_path, state_path
    from pipelines.quality.report import write_report
    from pipelines.quality.scorecard import compute_scorecard

    catalogue = _catalogue()
    as_of = _as_of(config, dict(context.run.tags) if context.run else {})
    data_dir = warehouse.paths.data_dir
    with warehouse.connect(read_only=True) as con:
        sc = compute_scorecard(con, catalogue, as_of, state_path=state_path(data_dir), full=config.revalidate)
        out = write_report(data_dir, con, catalogue, as_of, docs_index=docs_index(data_dir), scorecard=sc,
                           rejected_state=rejected_state_path(data_dir), full=config.revalidate)
    yield dg.MaterializeResult(
        asset_key=REPORT_KEY,
        metadata={
            "report": dg.MetadataValue.path(str(out["report"])),
            "history": dg.MetadataValue.path(str(out["index"])),
            "score": float(sc.overall["score"]) if sc.overall["score"] is not None else float("nan"),
            "departments": dg.MetadataValue.json(
                {d["code"]: None if d["score"] is None else round(float(d["score"]), 1) for d in sc.departments}
            ),
        },
    )
    yield from check_results(sc, sc.thresholds)


defs = dg.Definitions(assets=[data_docs, data_quality_report])
