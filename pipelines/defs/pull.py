"""Pull: copy new batches from the departments' sources (catalogs/departments.yaml
``source.url``) into ``inbox/<department>/<batch>/``."""


from collections.abc import Mapping, Sequence

import dagster as dg

from pipelines.catalogue import load_catalogue

from .resources import WarehouseResource

PULLED_BATCHES = dg.AssetKey(["inbox", "pulled_batches"])


def _describe(result: object) -> dict[str, object]:
    """Metadata for whatever ``pull_sources`` returns (a list of batches, a report …)."""
    if result is None:
        return {"batches_pulled": 0}
    if isinstance(result, Mapping):
        items = list(result.items())
        return {"batches_pulled": len(items), "batches": dg.MetadataValue.json(
            {str(k): str(v) for k, v in items[:200]})}
    if isinstance(result, Sequence) and not isinstance(result, str | bytes):
        batches = [
            f"{b.department_code}/{b.batch}" if hasattr(b, "department_code") else str(b)
            for b in list(result)[:200]
        ]
        files = sum(len(getattr(b, "files", None) or []) for b in result)
        return {"batches_pulled": len(result), "files_pulled": files,
                "batches": dg.MetadataValue.json(batches)}
    meta: dict[str, object] = {"result": str(result)[:2000]}
    for attr in ("batches", "pulled", "files"):
        v = getattr(result, attr, None)
        if isinstance(v, Sequence) and not isinstance(v, str | bytes):
            meta[f"{attr}_pulled"] = len(v)
    return meta


@dg.asset(
    key=PULLED_BATCHES,
    group_name="ingest",
    kinds={"python"},
    description="New batches copied from each department's source (拉取) into the inbox.",
)
def pulled_batches(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from pipelines.ingest import pull_sources

    paths = warehouse.paths.ensure()
    result = pull_sources(paths, load_catalogue())
    meta = _describe(result)
    context.log.info(f"pull: {meta.get('batches_pulled', '?')} batch(es) into {paths.inbox}")
    return dg.MaterializeResult(metadata={**meta, "inbox": str(paths.inbox)})


defs = dg.Definitions(assets=[pulled_batches])
