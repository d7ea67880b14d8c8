"""Stage `transform`: the dbt project (staging → intermediate → marts) as Dagster assets.

* Asset keys: dbt sources ``raw.<category>`` → ``["raw", <category>]`` (produced by
  ingest), ``codes.*`` → ``["codes", <table>]`` (codes stage), ``audit.*`` →
  ``["audit", <table>]``; models and seeds → ``[<schema>, <name>]``, e.g.
  ``["marts", "credit_grades"]``, ``["config", "score_indicators"]``.
* dbt data tests and unit tests are asset checks (dagster-dbt default).
* The evaluation date is a dbt var: run config ``as_of``, else the run tag
  ``credit/as_of`` (set by ``credit run --as-of``), else ``$CREDIT_AS_OF``, else today.
* The manifest is produced by ``dbt parse`` when this module loads and it is missing or
  older than the project's models / macros / seeds (always refreshed under ``dagster dev``).
"""


import datetime as dt
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from pipelines.settings import Paths
from pipelines.warehouse import DBT_PROJECT_DIR, dbt_input_files

AS_OF_ENV = "CREDIT_AS_OF"
AS_OF_TAG = "credit/as_of"
WAREHOUSE_POOL = "duckdb_writer"
# Sources produced by other stages keep their own keys.
UPSTREAM_SOURCES = ("raw", "codes", "audit")

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")

def _newest_input_mtime() -> float:
    return max((f.stat().st_mtime for f in dbt_input_files()), default=0.0)


def manifest_is_stale(project: DbtProject) -> bool:
    path = project.manifest_path
    return not path.exists() or path.stat().st_mtime < _newest_input_mtime()


credit_dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
credit_dbt_project.prepare_if_dev()  # under `dagster dev`: always re-parse
if manifest_is_stale(credit_dbt_project):
    # No manifest, or models / seeds changed since it was written: `dbt parse` now.
    credit_dbt_project.preparer.prepare(credit_dbt_project)


class CreditDbtTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        rtype = dbt_resource_props["resource_type"]
        if rtype == "source" and dbt_resource_props["source_name"] in UPSTREAM_SOURCES:
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        if rtype in ("model", "seed", "snapshot"):
            schema = dbt_resource_props.get("schema") or "main"
            return dg.AssetKey([schema, dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "transform"


class TransformConfig(dg.Config):
    as_of: str | None = None
    """Evaluation date YYYY-MM-DD (default: tag credit/as_of, $CREDIT_AS_OF, today)."""


def resolve_as_of(config_as_of: str | None = None, tags: Mapping[str, str] | None = None) -> str:
    for candidate in (config_as_of, (tags or {}).get(AS_OF_TAG), os.environ.get(AS_OF_ENV)):
        if candidate:
            return dt.date.fromisoformat(str(candidate).strip()).isoformat()
    return dt.date.today().isoformat()


def dbt_vars(as_of: str) -> str:
    return json.dumps({"as_of": as_of})


@contextmanager
def _absolute_data_dir() -> Iterator[None]:
    """dbt resolves a relative path from dbt_project/: hand it an absolute CREDIT_DATA_DIR."""
    previous = os.environ.get("CREDIT_DATA_DIR")
    paths = Paths.from_env().ensure()
    os.environ["CREDIT_DATA_DIR"] = str(paths.data_dir)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("CREDIT_DATA_DIR", None)
        else:
            os.environ["CREDIT_DATA_DIR"] = previous


@dbt_assets(
    manifest=credit_dbt_project.manifest_path,
    project=credit_dbt_project,
    dagster_dbt_translator=CreditDbtTranslator(),
    name="credit_dbt",
    pool=WAREHOUSE_POOL,
)
def credit_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: TransformConfig):
    as_of = resolve_as_of(config.as_of, context.run.tags if context.run else None)
    context.log.info(f"dbt build as of {as_of}")
    with _absolute_data_dir():
        yield from dbt.cli(["build", "--vars", dbt_vars(as_of)], context=context).stream()


defs = dg.Definitions(
    assets=[credit_dbt_assets],
    resources={"dbt": DbtCliResource(project_dir=credit_dbt_project)},
)

__all__ = ["defs", "credit_dbt_assets", "credit_dbt_project", "CreditDbtTranslator", "resolve_as_of"]
