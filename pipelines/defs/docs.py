"""Stage `docs`: the data dictionary — `dbt docs generate --static` published as one
offline page under ``$CREDIT_DATA_DIR/reports/dbt_docs/`` after every build of the marts
(library: ``pipelines.warehouse.docs``)."""

import dagster as dg

from .resources import WAREHOUSE_POOL, WarehouseResource

MARTS = ("subjects", "credit_records", "score_components", "credit_grades", "sampling_plan",
         "inspection_draw")


@dg.asset(
    key=["reports", "dbt_docs"],
    deps=[dg.AssetKey(["marts", m]) for m in MARTS],
    group_name="reports",
    kinds={"dbt"},
    # dbt opens the warehouse (read-only) for the catalog: wait for the writer.
    pool=WAREHOUSE_POOL,
    description="Data dictionary (数据字典): every mart and column described in Chinese and "
    "English, as a self-contained page that opens offline.",
)
def dbt_docs(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from pipelines.warehouse.docs import publish_dbt_docs

    page = publish_dbt_docs(warehouse.paths.data_dir)
    context.log.info(f"data dictionary: {page}")
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(page))})


defs = dg.Definitions(assets=[dbt_docs])
