"""Stage `codes` (重错码治理): resolve every subject reference in the raw layer to one
subject, explain every repair, detect 重码 / 多码.

Writes ``codes.subjects``, ``codes.register``, ``codes.subject_refs``,
``audit.code_resolutions`` and ``audit.code_conflicts`` in one transaction (library:
``pipelines.codes.resolve``), in the DuckDB writer pool — incrementally when the previous
run's state allows it, with the change log ``codes.subject_changes`` (docs/architecture.md). Checks per department: share of
references resolved (minimum, ERROR) and share repaired (maximum, WARN), thresholds in
``catalogs/codes.yaml``."""


from typing import Any

import dagster as dg

from pipelines.catalogue import load_catalogue

from .resources import WAREHOUSE_POOL, WarehouseResource, vacuum_in

CATALOGUE = load_catalogue()
OUTPUTS = {
    ("codes", "subjects"): "Every subject: register entries, subjects known only from records, "
    "natural persons (pseudonymous id, masked ID number).",
    ("codes", "register"): "The subject register (登记注册) as resolved.",
    ("codes", "subject_refs"): "One row per current record naming a subject: its subject_id, "
    "how it was resolved (status, method, confidence) and the delivered file of the record "
    "(source_file). Every later stage joins through it.",
    ("audit", "code_resolutions"): "Every subject reference not valid as delivered: original value, "
    "resolved USCC, method, confidence, status (repaired / ambiguous / unresolved / unknown_subject).",
    ("audit", "code_conflicts"): "重码 (one code, several subjects) and 多码 (one name, several codes).",
}
SUBJECT_REFS = dg.AssetKey(["codes", "subject_refs"])
RESOLVED = ("valid", "repaired", "unknown_subject", "person")


def _check_name(dept: str) -> str:
    return f"resolution_{dept}"


def _upstream() -> list[dg.AssetKey]:
    keys = [dg.AssetKey(["raw", c.id]) for c in CATALOGUE.categories.values() if c.subject_ref_fields]
    return keys


@dg.multi_asset(
    name="resolve_subject_codes",
    specs=[
        dg.AssetSpec(list(k), deps=_upstream(), description=d, group_name="codes", kinds={"duckdb"},
                     metadata={"table": ".".join(k)})
        for k, d in OUTPUTS.items()
    ],
    check_specs=[
        dg.AssetCheckSpec(
            _check_name(dept.code), asset=SUBJECT_REFS,
            description=f"{dept.name}: share of subject references resolved (ERROR below "
            "checks.min_resolved_share) and repaired (WARN above checks.max_repaired_share).",
        )
        for dept in CATALOGUE.departments.values()
    ],
    pool=WAREHOUSE_POOL,
    description="重错码治理: normalise, validate and repair every subject code against the register.",
)
def resolve_subject_codes(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    from pipelines.codes.privacy import pseudonym_key
    from pipelines.codes.resolve import last_resolution, resolve_subjects

    catalogue = load_catalogue()
    checks = catalogue.setting("codes.checks")
    min_resolved, max_repaired = float(checks["min_resolved_share"]), float(checks["max_repaired_share"])
    with warehouse.connect(vacuum=vacuum_in(context)) as con:
        before = (last_resolution(con) or {}).get("generation")
        summary = resolve_subjects(con, catalogue, pseudonym_key(warehouse.paths.data_dir))
        context.log.info(f"code governance: {summary}")
        state = last_resolution(con) or {}
        if state.get("generation") == before:  # an incremental run that found nothing to change
            run = {"generation": before, "mode": "unchanged"}
        else:
            run = {k: state.get(k) for k in ("generation", "mode", "reason", "refs_classified", "refs_changed",
                                             "refs_removed", "subjects_changed")}
        context.log.info(f"code governance run: {run}")
        per_dept = {
            d: (int(n), int(ok), int(rep))
            for d, n, ok, rep in con.execute(
                f"""SELECT department_code, count(*),
                           count(*) FILTER (WHERE status IN {RESOLVED!r}),
                           count(*) FILTER (WHERE status = 'repaired')
                    FROM codes.subject_refs GROUP BY 1"""
            ).fetchall()
        }
        counts = {
            k: con.execute(f"SELECT count(*) FROM {k[0]}.{k[1]}").fetchall()[0][0] for k in OUTPUTS
        }
    for k in OUTPUTS:
        meta: dict[str, Any] = {"dagster/row_count": int(counts[k])}
        if k == ("codes", "subject_refs"):
            meta.update({f"status_{s}": v for s, v in summary.get("by_status", {}).items()})
            meta.update({f"resolution_{n}": v for n, v in run.items() if v is not None})
        if k == ("audit", "code_conflicts"):
            meta.update({f"conflicts_{s}": v for s, v in summary.get("conflicts", {}).items()})
        yield dg.MaterializeResult(asset_key=dg.AssetKey(list(k)), metadata=meta)
    for dept in catalogue.departments.values():
        n, ok, rep = per_dept.get(dept.code, (0, 0, 0))
        resolved = ok / n if n else 1.0
        repaired = rep / n if n else 0.0
        meta = {"references": n, "resolved_share": round(resolved, 6), "repaired_share": round(repaired, 6),
                "min_resolved_share": min_resolved, "max_repaired_share": max_repaired}
        if resolved < min_resolved:
            yield dg.AssetCheckResult(
                asset_key=SUBJECT_REFS, check_name=_check_name(dept.code), passed=False,
                severity=dg.AssetCheckSeverity.ERROR, metadata=meta,
                description=f"{dept.name}：可识别主体代码比例 {resolved:.1%} 低于 {min_resolved:.0%}")
        elif repaired > max_repaired:
            yield dg.AssetCheckResult(
                asset_key=SUBJECT_REFS, check_name=_check_name(dept.code), passed=False,
                severity=dg.AssetCheckSeverity.WARN, metadata=meta,
                description=f"{dept.name}：需修复的代码比例 {repaired:.1%} 高于 {max_repaired:.0%}，请源头纠正")
        else:
            yield dg.AssetCheckResult(asset_key=SUBJECT_REFS, check_name=_check_name(dept.code),
                                      passed=True, metadata=meta)


defs = dg.Definitions(assets=[resolve_subject_codes])
