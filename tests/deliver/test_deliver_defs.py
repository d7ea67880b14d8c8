"""Dagster wiring of the deliver stage: the partitioned extracts asset, its jobs and the
monthly schedule; one department materialised alone on the hand-made marts."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import pytest
from deliver_fixture import AS_OF

from pipelines.catalogue import load_catalogue
from pipelines.defs import deliver
from pipelines.defs.resources import WarehouseResource

KEY = dg.AssetKey(["exports", "department_extracts"])


def test_asset_is_partitioned_by_department_and_downstream_of_the_marts():
    assert deliver.DEPARTMENTS.get_partition_keys() == list(load_catalogue().departments)
    spec = deliver.department_extracts
    assert spec.key == KEY and spec.partitions_def == deliver.DEPARTMENTS
    deps = spec.asset_deps[KEY]
    assert {dg.AssetKey(["marts", "credit_grades"]), dg.AssetKey(["marts", "inspection_draw"])} <= deps


def test_dbt_keys_line_up():
    from pipelines.definitions import defs
    from pipelines.defs.transform import credit_dbt_project

    manifest = json.loads(credit_dbt_project.manifest_path.read_text(encoding="utf-8"))
    if "model.credit_warehouse.inspection_draw" not in manifest["nodes"]:
        pytest.skip("the dbt manifest predates the sampling models: run `dbt parse` (or dagster dev)")
    graph = defs.resolve_asset_graph()
    node = graph.get(KEY)
    for parent in node.parent_keys:
        assert graph.has(parent) and graph.get(parent).is_materializable, parent
    job = defs.resolve_job_def("monthly_evaluation")
    keys = set(job.asset_layer.selected_asset_keys)
    assert {KEY, dg.AssetKey(["marts", "credit_grades"]), dg.AssetKey(["marts", "inspection_draw"])} <= keys
    assert {k.path[0] for k in keys} <= {"config", "staging", "intermediate", "marts", "exports"}
    assert defs.resolve_job_def("department_extracts").partitions_def == deliver.DEPARTMENTS


def test_monthly_schedule():
    s = deliver.monthly_evaluation_schedule
    assert s.cron_schedule == "0 5 1 * *" and s.execution_timezone == "Asia/Shanghai"
    assert s.job_name == "monthly_evaluation"
    ctx = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 12, 1, 5, 0))
    req = s.evaluate_tick(ctx).run_requests[0]
    assert req.tags["credit/as_of"] == "2026-12-01"


def test_one_department_materialised_alone(fake_warehouse):
    data_dir = fake_warehouse.parent.parent
    result = dg.materialize(
        [deliver.department_extracts], partition_key="scjg",
        resources={"warehouse": WarehouseResource(data_dir=str(data_dir))},
        tags={"credit/as_of": AS_OF},
    )
    assert result.success
    out = data_dir / "exports"
    assert [p.name for p in out.iterdir()] == ["scjg"]
    manifest = json.loads((out / "scjg" / AS_OF / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["draw_version"] == 1
    checks = result.get_asset_check_evaluations()
    assert [c.passed for c in checks] == [True]
