"""The Dagster assets from a clean state: GX suites from the catalogue, a validation per
delivered file, an offline Data Docs site (``reports/data_docs``), the report linking it
(``reports/data_quality``), and the threshold checks."""

import shutil

import dagster as dg

from pipelines.defs.quality import data_docs, data_quality_report
from pipelines.defs.resources import WarehouseResource
from pipelines.quality.gx_suites import build_suite, docs_index, remote_references
from tests.quality.conftest import ID_NO


def test_suite_from_catalogue(catalogue):
    import great_expectations as gx

    gx.get_context(mode="ephemeral")
    suite = build_suite(catalogue.categories["admin_penalty"], catalogue)
    types = [e.expectation_type for e in suite.expectations]
    assert types.count("expect_column_to_exist") == len(catalogue.categories["admin_penalty"].fields)
    assert types.count("expect_column_values_to_not_be_null") == 13 + 5  # required + required_when
    assert "expect_column_values_to_be_in_set" in types and "expect_column_pair_values_a_to_be_greater_than_b" in types


def test_asset_builds_docs_and_report_from_clean_state(tmp_path, warehouse, monkeypatch):
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "False")
    (tmp_path / "warehouse").mkdir()
    shutil.copy(warehouse, tmp_path / "warehouse" / "credit.duckdb")
    res = dg.materialize(
        [data_docs, data_quality_report],
        resources={"warehouse": WarehouseResource(data_dir=str(tmp_path))},
        run_config={"ops": {"data_quality_report": {"config": {"as_of": "2025-10-21"}}}},
    )
    assert res.success
    docs_meta = res.asset_materializations_for_node("reports__data_docs")[0].metadata
    assert docs_meta["files_validated"].value == 4 and docs_meta["files_failing_expectations"].value >= 1
    idx = docs_index(tmp_path)
    site = idx.parent
    assert idx.exists() and (site / "expectations" / "admin_penalty.html").exists()
    pages = list((site / "validations" / "admin_penalty").rglob("*.html"))
    assert len(pages) == 4  # one per delivered file (loaded or rejected_file), not the duplicate
    assert remote_references(site) == []
    assert "offline-index" in idx.read_text(encoding="utf-8")
    assert not any(ID_NO in p.read_text(encoding="utf-8") for p in site.rglob("*.html"))
    cfg = (tmp_path / "reports" / "gx" / "gx" / "great_expectations.yml").read_text(encoding="utf-8")
    assert "analytics_enabled: false" in cfg
    report = tmp_path / "reports" / "quality" / "2025-10-21" / "index.html"
    assert report.exists() and (tmp_path / "reports" / "quality" / "index.html").exists()
    # the report, built after the Data Docs in the same run, links their index
    assert "../../gx/" in report.read_text(encoding="utf-8") and "数据校验文档" in report.read_text(encoding="utf-8")
    assert (report.parent / "rejected_scjg.csv").exists()
    checks = {e.check_name: e for e in res.get_asset_check_evaluations()}
    assert not checks["min_validity"].passed and checks["min_validity"].severity == dg.AssetCheckSeverity.ERROR
    assert not checks["max_rejection_rate"].passed and checks["max_rejection_rate"].severity == dg.AssetCheckSeverity.WARN
    assert checks["min_completeness"].passed


def test_a_run_renders_only_its_new_results(tmp_path, warehouse, catalogue, monkeypatch):
    """Data Docs cost follows the new files, not the history: a second run with one new
    file writes that file's page (offline) and the index, and leaves the other pages;
    a run with nothing new renders nothing; a catalogue change rebuilds everything."""
    import time

    import duckdb

    from pipelines.quality import gx_suites

    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "False")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        files = [r[0] for r in con.execute("select source_file from audit.loads where status in "
                                           "('loaded', 'rejected_file') order by source_file").fetchall()]
        first = gx_suites.run_validations(tmp_path, con, catalogue, batches=files[:-1])
        assert first["docs_build"] == "full" and len(first["validated"]) == len(files) - 1
        site = gx_suites.docs_index(tmp_path).parent
        before = {p: p.stat().st_mtime_ns for p in site.rglob("*.html")}
        time.sleep(2.1)
        second = gx_suites.run_validations(tmp_path, con, catalogue)
        assert second["docs_build"] == "incremental"
        assert [v["source_file"] for v in second["validated"]] == [files[-1]]
        after = {p: p.stat().st_mtime_ns for p in site.rglob("*.html")}
        new_pages = set(after) - set(before)
        assert len(new_pages) == 1 and (site / "validations") in next(iter(new_pages)).parents
        rewritten = {p for p in before if after[p] != before[p]}
        assert rewritten <= {gx_suites.docs_index(tmp_path)}, rewritten
        assert gx_suites.remote_references(site) == []
        index = gx_suites.docs_index(tmp_path).read_text(encoding="utf-8")
        assert index.count('href="validations/') == len(files)

        assert gx_suites.run_validations(tmp_path, con, catalogue)["docs_build"] == "unchanged"
        monkeypatch.setattr(gx_suites, "_docs_fingerprint", lambda: "another catalogue")
        assert gx_suites.run_validations(tmp_path, con, catalogue)["docs_build"] == "full"
    finally:
        con.close()


def test_validations_in_worker_processes_equal_the_serial_ones(tmp_path, warehouse, catalogue, monkeypatch):
    """quality.gx.workers: the same results (per file, same order) and pages from two
    worker processes as from the pipeline's own process; serial when the warehouse is
    open read-write (other processes are locked out)."""
    import duckdb

    from pipelines.quality import gx_suites

    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "False")
    base = gx_suites._settings(catalogue)
    runs = {}
    for workers in (1, 2):
        monkeypatch.setattr(gx_suites, "_settings", lambda c, w=workers: {**base, "workers": w, "parallel_min_files": 2,
                                                                           "parallel_min_seconds": 0})
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            assert gx_suites._workers(con, gx_suites._settings(catalogue), 5) == workers
            runs[workers] = gx_suites.run_validations(tmp_path / f"w{workers}", con, catalogue)
        finally:
            con.close()
    assert runs[2]["validated"] == runs[1]["validated"] and len(runs[1]["validated"]) == 4
    pages = {w: sorted(p.parent.parent.name for p in (gx_suites.docs_index(tmp_path / f"w{w}").parent
                                                       / "validations").rglob("*.html")) for w in (1, 2)}
    assert pages[1] == pages[2] and len(pages[1]) == 4
    # a worker that cannot start (here: no such warehouse) leaves its files to the caller
    todo = [{"source_file": "x.csv", "category": "admin_penalty", "rows": 1}]
    assert gx_suites._validate_in_workers(tmp_path / "w2", str(tmp_path / "missing.duckdb"), todo, 2) == [None]
    copy = tmp_path / "rw.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    with duckdb.connect(str(copy)) as rw:
        assert gx_suites._workers(rw, gx_suites._settings(catalogue), 5) == 1
