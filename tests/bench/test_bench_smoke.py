"""Smoke runs of the benchmark modules at toy scale, so the bench code cannot rot.

The whole-pipeline benchmark's expensive part is ``credit run`` (tests/test_cli.py covers
it); here every other piece of pipelines.bench.pipeline runs for real on a small demo
inbox — the floor, the incremental batch, the event-log reader on a recorded run, the
per-stage assembly and the scaling/markdown rendering.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.bench import codes as bc
from pipelines.bench import pipeline as bp
from pipelines.bench.machine import machine_info, run_measured, tree_rss


def test_validation_smoke():
    r = bc.bench_validation(n=50_000, stdnum_sample=10_000, repeats=3)
    for k in ("codes", "polars_s", "polars_per_s", "stdnum_s", "stdnum_per_s", "speedup",
              "agreement_with_stdnum", "by_status", "numpy_uscc_valid_s"):
        assert k in r
    assert r["codes"] == 50_000 and r["stdnum_extrapolated"] is True
    assert r["polars_per_s"] > 0 and r["stdnum_per_s"] > 0
    # the vectorised validators beat the per-code python loop on the same codes
    assert r["polars_s"] < r["stdnum_s"]
    assert r["agreement_with_stdnum"] > 0.99
    assert sum(r["by_status"].values()) == 50_000
    assert r["by_status"]["valid"] > 25_000


def test_resolution_smoke():
    r = bc.bench_resolution(register=2_000, refs=500)
    assert r["register_rows"] == 2_000 and r["references"] == 500
    assert r["resolve_s"] > 0 and r["records_per_s"] > 0
    out = r["reference_outcomes"]
    assert sum(out.values()) == 500
    for method in ("repaired/lookalike", "repaired/register_org_code", "repaired/register_reg_no",
                   "repaired/name_match", "unresolved"):
        assert out.get(method, 0) > 0, (method, out)


def test_machine_and_sampler():
    m = machine_info()
    assert m["nproc"] >= 1 and m["ram_gb"] > 0
    assert tree_rss(os.getpid()) > 0
    res = run_measured([sys.executable, "-c", "x = bytearray(50_000_000); import time; time.sleep(0.6)"],
                       interval=0.05)
    assert res.returncode == 0 and res.seconds > 0.5
    assert res.peak_rss_bytes > 50_000_000


@pytest.fixture(scope="module")
def demo_inbox(tmp_path_factory) -> Path:
    from pipelines.demo import generate_demo

    data = tmp_path_factory.mktemp("bench") / "data"
    generate_demo(data, subjects=300, seed=7)
    return data


def test_floor_and_increment(demo_inbox: Path, tmp_path: Path):
    fl = bp.floor_read_csv(demo_inbox / "inbox", tmp_path / "floor.duckdb")
    assert fl["files"] > 10 and fl["rows"] > 300 and fl["seconds"] > 0
    before = {p for p in (demo_inbox / "inbox").rglob("*") if p.is_file()}
    inc = bp.write_increment(demo_inbox, share=0.3)
    after = {p for p in (demo_inbox / "inbox").rglob("*") if p.is_file()}
    added = after - before
    assert inc["files"] == len(added) > 0
    assert all(p.parent.name.startswith(bp.INCREMENT_BATCH[:6]) for p in added)
    assert inc["new_rows"] > 0
    # The landing run's second batch: another seed and batch, re-deliveries sampled from the
    # same regular batch as the first increment's (not from the first increment).
    inc2 = bp.write_increment(demo_inbox, share=0.3, seed=bp.LANDING_SEED, batch=bp.LANDING_BATCH,
                              redeliver_before=bp.INCREMENT_BATCH)
    added2 = {p for p in (demo_inbox / "inbox").rglob("*") if p.is_file()} - after
    assert inc2["files"] == len(added2) > 0
    assert {p.parent.name for p in added2} <= {bp.LANDING_BATCH, bp.LANDING_BATCH + "_2", "20261113"}
    assert inc2["redelivered_rows"] == inc["redelivered_rows"] > 0  # same files, same share


def test_event_log_and_assembly(tmp_path: Path):
    """A tiny Dagster job recorded in a DAGSTER_HOME → per-step times → stage table."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    code = (
        "import dagster as dg, time\n"
        "@dg.op\n"
        "def ingest_inbox(): time.sleep(0.2); return 1\n"
        "@dg.op\n"
        "def resolve_subject_codes(x): time.sleep(0.1); return x\n"
        "@dg.op\n"
        "def credit_dbt(x): time.sleep(0.1); return x\n"
        "@dg.op\n"
        "def data_quality_report(x): time.sleep(0.3); return x\n"
        "@dg.job\n"
        "def j(): data_quality_report(credit_dbt(resolve_subject_codes(ingest_inbox())))\n"
        "with dg.DagsterInstance.get() as i: j.execute_in_process(instance=i)\n"
    )
    env = dict(os.environ, DAGSTER_HOME=str(home))
    started = time.time()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    ended = time.time()
    st = bp.step_times(home)
    assert {"ingest_inbox", "resolve_subject_codes", "credit_dbt"} <= set(st["steps"])
    s = st["steps"]["ingest_inbox"]
    assert s["ok"] and s["end"] - s["start"] >= 0.2
    assert st["run_end"] >= st["run_start"]
    # The marts are current when the dbt step ends: after ingest, codes and dbt (≥ 0.4 s
    # of sleeps), before the quality step's 0.3 s and the end of the process.
    ready = bp.marts_ready(st, started)
    assert 0.4 <= ready <= ended - started - 0.3
    assert ready == round(st["steps"]["credit_dbt"]["end"] - started, 2)


def test_marts_ready_needs_a_successful_dbt_step():
    st = {"steps": {"credit_dbt": {"start": 10.0, "end": 25.5, "ok": True}}}
    assert bp.marts_ready(st, 4.0) == 21.5
    assert bp.marts_ready({"steps": {"credit_dbt": {"start": 10.0, "end": 12.0, "ok": False}}}, 4.0) is None
    assert bp.marts_ready({"steps": {"credit_dbt": {"start": 10.0}}}, 4.0) is None
    assert bp.marts_ready({"steps": {}}, 4.0) is None


def _fake(subjects: int, rows: int, k: float) -> dict:
    stages = {name: {"seconds": round(0.001 * rows ** k, 3), "rows": rows, "rows_per_s": 1, "peak_rss_mb": 10,
                     "ok": True} for name in bp.STEPS.values()}
    run = {"seconds": 5.0, "marts_ready_seconds": 2.0, "rows_per_s": rows // 5, "peak_rss_mb": 100, "stages": stages,
           "counts": {"input_rows": rows}, "loadavg_before": [1.0], "loadavg_after": [1.0]}
    r = {"subjects": subjects, "machine": machine_info(), "inbox": {"rows": rows, "files": 3, "mb": 1.0},
         "demo": {"seconds": 1.0, "rows": rows, "rows_per_s": rows, "peak_rss_mb": 50},
         "floor": {"files": 3, "rows": rows, "seconds": 0.5, "rows_per_s": rows * 2, "peak_rss_mb": 40},
         "full": run, "incremental": run, "increment_batch": {"files": 1, "new_rows": 10, "redelivered_rows": 5},
         "incremental_vs_full": 1.0,
         "landing": {**run, "seconds": 0.4, "stages": {k: v for k, v in stages.items() if k != "extracts"}},
         "landing_batch": {"files": 2, "new_rows": 12, "redelivered_rows": 6}, "landing_vs_full": 0.08,
         "landing_idle": {**run, "seconds": 0.25, "stages": {k: v for k, v in stages.items() if k != "extracts"}},
         "landing_idle_vs_full": 0.05}
    r["targets"] = bp._targets(r)
    return r


def test_scaling_and_render(tmp_path: Path):
    from pipelines.bench.report import render_markdown

    a, b = _fake(1000, 3000, 1.0), _fake(10000, 30000, 1.0)
    sc = bp.scaling([a, b])
    assert abs(sc["exponent"]["ingest"] - 1.0) < 0.05
    for r in (a, b):
        (tmp_path / f"pipeline-{r['subjects']}.json").write_text(json.dumps({"result": r}))
    md = render_markdown(tmp_path)
    assert "| ingest |" in md and "floor" in md and "Scaling exponent" in md
    assert "held the batch 2.0 s after the re-run started (40% of the full run)" in md
    assert "on a second batch of 2 files, 12 new rows + 6 re-delivered rows: 0.4 s = 8% of the full run" in md
    assert "again with nothing new — its fixed costs, whatever the batch: 0.25 s = 5.0% of the full run" in md
    assert a["targets"] == {"full_run_within_10_min": True, "peak_under_8_gb": True,
                            "incremental_within_10pct": False, "landing_within_10pct": True}
    # the extracts' row has no landing figure: the landing run does not write them
    assert [ln for ln in md.splitlines() if ln.startswith("| extracts |")][0].endswith("| — |")


def test_driver_render(tmp_path: Path):
    t0 = time.time()
    root = Path(__file__).resolve().parents[2]
    res = subprocess.run([sys.executable, str(root / "scripts" / "bench.py"), "--render", "--out", str(tmp_path)],
                         capture_output=True, text=True, cwd=root)
    assert res.returncode == 0, res.stderr
    assert time.time() - t0 < 30
    assert duckdb.__version__  # the bench's only engine
