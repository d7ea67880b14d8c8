"""The Dagster code location loads and has the shape the architecture fixes."""

from __future__ import annotations

import dagster as dg
import pytest

from pipelines.catalogue import load_catalogue
from pipelines.definitions import build_definitions, defs, stage_modules

# Assets that only touch files (never the DuckDB warehouse) may run outside the pool.
FILE_ONLY_PREFIXES = {"inbox"}


@pytest.fixture(scope="module")
def graph():
    return defs.resolve_asset_graph()


def test_definitions_load_and_validate():
    dg.Definitions.validate_loadable(defs)
    names = {m.__name__.rsplit(".", 1)[-1] for m in stage_modules()}
    assert {"pull", "ingest", "resources"} <= names


def test_every_category_has_a_raw_asset_and_a_check(graph):
    keys = graph.get_all_asset_keys()
    checks = graph.asset_check_keys
    for cat in load_catalogue().categories:
        key = dg.AssetKey(["raw", cat])
        assert key in keys, cat
        assert dg.AssetCheckKey(key, "rows_and_rejection_rate") in checks, cat
    for name in ("loads", "row_outcomes", "rejected_rows"):
        assert dg.AssetKey(["audit", name]) in keys
    assert dg.AssetKey(["inbox", "pulled_batches"]) in keys


def test_ingest_depends_on_pull(graph):
    node = graph.get(dg.AssetKey(["audit", "loads"]))
    assert dg.AssetKey(["inbox", "pulled_batches"]) in node.parent_keys


def test_sensor_schedule_and_job():
    assert defs.resolve_sensor_def("inbox_sensor").job_name == "credit_landing"
    sched = defs.resolve_schedule_def("daily_ingest")
    assert sched.job_name == "credit_pipeline"
    assert sched.execution_timezone == "Asia/Shanghai"
    job = defs.resolve_job_def("credit_pipeline")
    # The whole graph: every materialisable asset is in the job.
    graph = defs.resolve_asset_graph()
    in_job = job.asset_layer.asset_graph.get_all_asset_keys()
    assert graph.materializable_asset_keys <= set(in_job)


def test_landing_job_is_all_but_the_scheduled_deliveries(graph):
    """A landed batch runs everything but the assets delivered on schedule (the
    departments' extracts, the great-expectations Data Docs); the schedules run the
    whole graph. The data-quality report is in the landing and comes after the Data
    Docs when a run builds both (it links them)."""
    landing = defs.resolve_job_def("credit_landing").asset_layer.selected_asset_keys
    extracts = dg.AssetKey(["exports", "department_extracts"])
    data_docs = dg.AssetKey(["reports", "data_docs"])
    report = dg.AssetKey(["reports", "data_quality"])
    executed = {k for k in landing if graph.get(k).is_materializable}
    assert executed == graph.materializable_asset_keys - {extracts, data_docs}
    assert report in executed
    for key in (extracts, data_docs):
        assert graph.get(key).tags.get("credit/delivery") == "scheduled"
    assert data_docs in graph.get(report).parent_keys
    daily = defs.resolve_job_def("credit_pipeline").asset_layer.selected_asset_keys
    assert {extracts, data_docs, report} <= set(daily)
    assert defs.resolve_schedule_def("monthly_evaluation_schedule").job_name == "monthly_evaluation"


def test_warehouse_writers_use_the_pool(graph):
    for key in graph.materializable_asset_keys:
        if key.path[0] not in FILE_ONLY_PREFIXES:
            node = graph.get(key)
            pools = {node.assets_def.node_def.pool} if node.assets_def.node_def else set()
            assert pools == {"duckdb_writer"}, (
                f"{key.to_user_string()} touches the warehouse outside pool duckdb_writer")


def test_build_is_repeatable():
    again = build_definitions()
    assert again.resolve_asset_graph().get_all_asset_keys() == defs.resolve_asset_graph().get_all_asset_keys()


def test_rejection_check_severity():
    from pipelines.defs.ingest import rejection_check

    def stats(read, rejected):
        return {"rows_read": read, "rows_loaded": read - rejected, "rows_rejected": rejected,
                "rejection_rate": rejected / read if read else 0.0}

    ok = rejection_check("admin_penalty", stats(100, 1), 0.05, 0.5)
    assert ok.passed
    warn = rejection_check("admin_penalty", stats(100, 10), 0.05, 0.5)
    assert not warn.passed and warn.severity == dg.AssetCheckSeverity.WARN
    err = rejection_check("admin_penalty", stats(100, 60), 0.05, 0.5)
    assert not err.passed and err.severity == dg.AssetCheckSeverity.ERROR


def test_inbox_sensor_cursor(credit_env):
    from pipelines.settings import Paths

    sensor = defs.resolve_sensor_def("inbox_sensor")
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance)
        assert isinstance(sensor(ctx), dg.SkipReason)  # nothing delivered
        paths = Paths.from_env()
        src = paths.sources / "scjg" / "20261103"
        src.mkdir(parents=True)
        (src / "admin_penalty.csv").write_text("a,b\n1,2\n", encoding="utf-8")
        ctx = dg.build_sensor_context(instance=instance)
        req = sensor(ctx)
        assert isinstance(req, dg.RunRequest)
        cursor = ctx.cursor
        # The same batch pulled into the inbox is not a new batch.
        dst = paths.inbox / "scjg" / "20261103"
        dst.mkdir(parents=True)
        (dst / "admin_penalty.csv").write_text("a,b\n1,2\n", encoding="utf-8")
        ctx = dg.build_sensor_context(instance=instance, cursor=cursor)
        assert isinstance(sensor(ctx), dg.SkipReason)
        # A new batch is.
        new = paths.inbox / "swj" / "20261110"
        new.mkdir(parents=True)
        (new / "tax_credit_rating.csv").write_text("x\n1\n", encoding="utf-8")
        ctx = dg.build_sensor_context(instance=instance, cursor=cursor)
        assert isinstance(sensor(ctx), dg.RunRequest)
