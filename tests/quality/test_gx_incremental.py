"""GX's fixed costs cut without changing what auditors get: stored suites reused while
the catalogue is unchanged (saved again on a change or with ``revalidate``), validation
without the checkpoint's freshness re-reads (the same stored result), the Data Docs index
built from kept result summaries (the same page), small batches validated in-process (an estimate of the serial time)."""

from __future__ import annotations

import datetime as dt
import json
import re

import duckdb
import great_expectations as gx
import pandas as pd
import pytest

from pipelines.quality import gx_suites


@pytest.fixture
def con(warehouse):
    c = duckdb.connect(str(warehouse), read_only=True)
    yield c
    c.close()


def _count_ensures(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = gx_suites._ensure_category

    def spy(ctx, category, catalogue, result_format):
        calls.append(category.id)
        return real(ctx, category, catalogue, result_format)

    monkeypatch.setattr(gx_suites, "_ensure_category", spy)
    return calls


def test_suites_are_saved_once_per_catalogue(tmp_path, con, catalogue, monkeypatch):
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "False")
    files = [r[0] for r in con.execute("select source_file from audit.loads where status in ('loaded', 'rejected_file') "
                                       "order by source_file").fetchall()]
    calls = _count_ensures(monkeypatch)
    first = gx_suites.run_validations(tmp_path, con, catalogue, batches=files[:2])
    assert calls == ["admin_penalty"]
    state = json.loads(gx_suites._suites_state_path(tmp_path).read_text(encoding="utf-8"))
    assert list(state) == ["admin_penalty"]
    second = gx_suites.run_validations(tmp_path, con, catalogue, batches=files[2:])
    assert calls == ["admin_penalty"]  # read from the store, not saved again
    assert [v["evaluated"] for v in first["validated"] + second["validated"]] == [first["validated"][0]["evaluated"]] * 4
    # a catalogue change (another suite) saves it again; so does revalidate
    state["admin_penalty"] = "another catalogue"
    gx_suites._suites_state_path(tmp_path).write_text(json.dumps(state), encoding="utf-8")
    gx_suites.run_validations(tmp_path, con, catalogue, batches=files[:1])
    assert calls == ["admin_penalty"] * 2
    gx_suites.run_validations(tmp_path, con, catalogue, force=True)
    assert calls == ["admin_penalty"] * 3
    # the stored objects gone (a store cleaned by hand): saved again
    for p in (tmp_path / "reports" / "gx" / "gx" / "checkpoints").glob("*"):
        p.unlink()
    gx_suites.run_validations(tmp_path, con, catalogue, batches=files[:1])
    assert calls == ["admin_penalty"] * 4


def _stored(ctx, key) -> dict:
    res = ctx.validation_results_store.get(key).to_json_dict()
    text = json.dumps(res, default=str, sort_keys=True, ensure_ascii=False)
    # what differs between two runs of the same validation: times and the run's name
    text = re.sub(r"\d{8}T\d{6}\.\d+Z|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+\+00:00", "T", text)
    return json.loads(text.replace('"run_name": "b"', '"run_name": "a"'))


def test_checkpoint_run_without_freshness_rereads_stores_the_same_result(tmp_path, con, catalogue, monkeypatch):
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "False")
    category = catalogue.categories["admin_penalty"]
    ctx = gx_suites.get_context(tmp_path)
    cp = gx_suites._ensure_category(ctx, category, catalogue, "SUMMARY")
    frame = gx_suites.gx_frame(gx_suites.batch_frame(con, category, "scjg/20251009/admin_penalty.csv", None))
    params = {"batch_date": gx_suites._as_utc(pd.Timestamp("2025-10-09")), "current_year": 2025}
    ours = gx_suites._run_checkpoint(cp, {"dataframe": frame}, params,
                                     gx.RunIdentifier(run_name="a", run_time=dt.datetime.now(dt.UTC)))
    theirs = cp.run(batch_parameters={"dataframe": frame}, expectation_parameters=params,
                    run_id=gx.RunIdentifier(run_name="b", run_time=dt.datetime.now(dt.UTC))).run_results
    (k1, r1), (k2, r2) = next(iter(ours.items())), next(iter(theirs.items()))
    assert k1.batch_identifier == k2.batch_identifier and k1.expectation_suite_identifier == k2.expectation_suite_identifier
    assert r1.success == r2.success is False
    assert _stored(ctx, k1) == _stored(ctx, k2)


def test_index_page_is_the_one_gx_builds(tmp_path, con, catalogue, monkeypatch):
    """The cached index builder writes GX's index page (the same HTML), reading each
    stored result once; the offline static index is the same with or without its cache."""
    import shutil

    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "False")
    gx_suites.run_validations(tmp_path / "a", con, catalogue)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    pages = {}
    for d in ("a", "b"):
        ctx = gx_suites.get_context(tmp_path / d)
        key = ctx.validation_results_store.list_keys()[:1]
        if d == "a":
            ctx.build_data_docs(resource_identifiers=key)  # GX's own index builder
        else:
            gx_suites._site_builder(ctx, tmp_path / d).build(resource_identifiers=key)
        pages[d] = re.sub(r"\d{8}T\d{6}\.\d+Z", "T", gx_suites.docs_index(tmp_path / d).read_text(encoding="utf-8"))
    assert pages["a"] == pages["b"] and pages["a"].count("validations/admin_penalty/") >= 4
    cache = json.loads(gx_suites._index_cache_path(tmp_path / "b").read_text(encoding="utf-8"))
    assert len(cache) == 4
    # kept summaries are used: a result whose file is unreadable still shows from the cache
    ctx = gx_suites.get_context(tmp_path / "b")
    store = tmp_path / "b" / "reports" / "gx" / "gx" / "uncommitted" / "validations"
    gxdir = tmp_path / "b" / "reports" / "gx" / "gx"

    def static_index() -> str:
        text = gx_suites.write_static_index(gxdir).read_text(encoding="utf-8")
        return text[text.index(gx_suites._STATIC_START):text.index(gx_suites._STATIC_END)]

    before = static_index()
    assert before.count("validations/admin_penalty/") == 4
    for js in store.rglob("*.json"):
        js.write_text("{}", encoding="utf-8")
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    gx_suites._site_builder(ctx, tmp_path / "b").build(resource_identifiers=[ExpectationSuiteIdentifier("admin_penalty")])
    assert re.sub(r"\d{8}T\d{6}\.\d+Z", "T", gx_suites.docs_index(tmp_path / "b").read_text(encoding="utf-8")) \
        .count("validations/admin_penalty/") >= 4
    assert static_index() == before


def test_small_batches_are_validated_in_process(con, catalogue):
    settings = {**gx_suites._settings(catalogue), "workers": 2}
    assert gx_suites._workers(con, settings, 10, 20_000) == 1  # a few small files: quicker than starting workers
    assert gx_suites._workers(con, settings, 68, 109_000) == 1  # a 1 % batch at province scale (about 43 s)
    assert gx_suites._workers(con, settings, 98, 1_000_000) == 2  # a whole inbox of 1M rows (about 84 s)
    assert gx_suites._workers(con, settings, 104, 10_000_000) == 2  # the whole inbox at province scale
    assert gx_suites._workers(con, settings, 3, 10_000_000) == 1  # fewer files than parallel_min_files


def test_asset_revalidate_rebuilds_everything(tmp_path, warehouse, monkeypatch):
    """The asset's second run with nothing new validates nothing and reuses the kept
    state; with ``revalidate`` it validates every file again, saves the suites again,
    rebuilds the whole Data Docs site and recomputes (and rewrites) the scorecard state."""
    import shutil

    import dagster as dg

    from pipelines.defs.quality import data_docs, data_quality_report
    from pipelines.defs.resources import WarehouseResource
    from pipelines.quality import scorecard

    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "False")
    (tmp_path / "warehouse").mkdir()
    shutil.copy(warehouse, tmp_path / "warehouse" / "credit.duckdb")
    ensures = _count_ensures(monkeypatch)
    grains: list = []
    real = scorecard._file_grain
    monkeypatch.setattr(scorecard, "_file_grain", lambda con, cat, files=None: grains.append(files) or real(con, cat, files))
    docs: list[str] = []
    real_docs = gx_suites.build_docs
    monkeypatch.setattr(gx_suites, "build_docs", lambda *a, **k: docs.append(real_docs(*a, **k)) or docs[-1])

    def run(revalidate: bool):
        res = dg.materialize(
            [data_docs, data_quality_report],
            resources={"warehouse": WarehouseResource(data_dir=str(tmp_path))},
            run_config={"ops": {"data_quality_report": {"config": {"as_of": "2025-10-21", "revalidate": revalidate}},
                                "reports__data_docs": {"config": {"revalidate": revalidate}}}},
        )
        assert res.success
        docs = res.asset_materializations_for_node("reports__data_docs")[0]
        mat = res.asset_materializations_for_node("data_quality_report")[0]
        return docs.metadata["files_validated"].value, mat.metadata["score"].value

    first = run(False)
    assert first[0] == 4 and ensures == ["admin_penalty"] and grains == [None] and docs == ["full"]
    second = run(False)
    # nothing new and the site current: the Data Docs are not even looked at (no GX context)
    assert second == (0, first[1]) and ensures == ["admin_penalty"] and grains == [None] and docs == ["full"]
    third = run(True)
    assert third == first and ensures == ["admin_penalty"] * 2 and grains == [None, None] and docs[-1] == "full"
    state = tmp_path / "reports" / "quality" / ".state" / "scorecard.duckdb"
    assert state.exists() and sorted(p.name for p in state.parent.iterdir()) == ["rejected_rows.duckdb", "scorecard.duckdb"]
