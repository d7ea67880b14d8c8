"""Early validation (pipelines/quality/early.py): a landed batch's files validated by a
worker while code governance and dbt run give the quality step the same results, the
same stored validations and the same Data Docs as validating them in the step itself;
whatever the worker does not do, the step does."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines.quality import early, gx_suites


@pytest.fixture
def rw(tmp_path, warehouse):
    """A writable copy of the warehouse, as the ingest step holds it."""
    path = tmp_path / "credit.duckdb"
    shutil.copy(warehouse, path)
    c = duckdb.connect(str(path))
    yield c
    c.close()


@pytest.fixture(autouse=True)
def _no_analytics(monkeypatch):
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "False")


def _early(monkeypatch, **settings):
    """quality.gx.early as in the catalogue, switched on (it is off by default on
    2-core machines), with ``settings`` on top."""
    real = early.settings
    monkeypatch.setattr(early, "settings", lambda c: {**real(c), "enabled": True, **settings})


@pytest.fixture(autouse=True)
def _switched_on(monkeypatch):
    _early(monkeypatch)


def _stored(data_dir: Path) -> dict[str, list]:
    """Every stored validation result, by file: per expectation its type, arguments,
    success and result (run ids and times left out)."""
    out: dict[str, list] = {}
    root = gx_suites.gx_root(data_dir) / "gx" / "uncommitted" / "validations"
    for p in sorted(root.rglob("*.json")):
        doc = json.loads(p.read_text(encoding="utf-8"))
        run = p.parent.parent.name
        assert run not in out, f"{run} stored twice"
        out[run] = sorted(
            json.dumps([r["expectation_config"]["type"], r["expectation_config"]["kwargs"], r["success"],
                        r["result"]], sort_keys=True, ensure_ascii=False, default=str)
            for r in doc["results"]
        )
    return out


def _pages(data_dir: Path) -> list[str]:
    site = gx_suites.docs_index(data_dir).parent
    return sorted(p.parent.parent.name for p in (site / "validations").rglob("*.html"))


def test_early_results_are_the_quality_steps_own(tmp_path, rw, catalogue):
    direct = gx_suites.run_validations(tmp_path / "direct", rw, catalogue)

    data = tmp_path / "early"
    staged = early.stage(data, rw, catalogue)
    assert staged["staged"] == 4 and staged["pid"] > 0
    with early.waiting(data, catalogue) as waited:  # the worker has exited: its lock is free
        assert waited["stopped"] is False
        assert set(early.results(data)) == {(v["source_file"], rw.execute(
            "select sha256 from audit.loads where source_file = ?", [v["source_file"]]).fetchone()[0])
            for v in direct["validated"]}
        # the worker rendered the pages and the index: this step needs no GX context
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(gx_suites, "get_context", lambda d: pytest.fail("GX context loaded"))
            got = gx_suites.run_validations(data, rw, catalogue)
    assert got["validated"] == direct["validated"] and got["docs_build"] == "early"
    assert got["validated_early"] == 4 and direct["validated_early"] == 0
    assert _stored(data) == _stored(tmp_path / "direct")
    assert _pages(data) == _pages(tmp_path / "direct") and len(_pages(data)) == 4
    assert gx_suites.remote_references(gx_suites.docs_index(data).parent) == []
    # collected and cleared; the next run has nothing to validate or stage
    d = early.early_dir(data)
    assert not (d / early.FRAMES).exists() and not (d / early.RESULTS).exists() and not (d / early.MANIFEST).exists()
    assert early.stage(data, rw, catalogue) == {"staged": 0, "rows": 0, "reason": "no file to validate"}
    assert gx_suites.run_validations(data, rw, catalogue)["validated"] == []
    log = (d / early.LOG).read_text(encoding="utf-8")
    assert "4 of 4 file(s)" in log and "Warning" not in log


def test_staged_frames_read_back_as_the_step_reads_them(tmp_path, rw, catalogue):
    """Parquet keeps values and, with the recorded dtypes restored (it has no
    second-resolution timestamps), the frame batch_frame gives."""
    out = early.stage(tmp_path, rw, catalogue, start_worker=False)
    assert out == {"staged": 4, "rows": 12}
    d = early.early_dir(tmp_path)
    tasks = json.loads((d / early.MANIFEST).read_text(encoding="utf-8"))
    assert len(tasks) == 4
    for t in tasks:
        want = gx_suites.batch_frame(rw, catalogue.category(t["category"]), t["source_file"],
                                     pd.Timestamp(t["batch_date"]))
        back = pd.read_parquet(d / early.FRAMES / t["frame"])
        back = back.astype({c: dt for c, dt in t["dtypes"].items() if str(back[c].dtype) != dt})
        pd.testing.assert_frame_equal(back, want, check_exact=True)
    # a rejected file with no itemised rows and a file with personal values among them
    assert any(t["rows"] == 0 or "补报" in t["source_file"] for t in tasks)


def test_what_the_worker_did_not_validate_the_step_does(tmp_path, rw, catalogue):
    direct = gx_suites.run_validations(tmp_path / "direct", rw, catalogue)
    data = tmp_path / "early"
    early.stage(data, rw, catalogue, start_worker=False)
    d = early.early_dir(data)
    tasks = json.loads((d / early.MANIFEST).read_text(encoding="utf-8"))
    (d / early.FRAMES / tasks[1]["frame"]).unlink()  # lost: the worker cannot validate it
    assert early.run_worker(data) == 0
    assert len(early.results(data)) == 3 and not (d / early.MANIFEST).exists()
    got = gx_suites.run_validations(data, rw, catalogue)
    assert got["validated"] == direct["validated"] and got["validated_early"] == 3
    assert got["docs_build"] == "incremental"  # the fourth page, then the index
    assert _stored(data) == _stored(tmp_path / "direct")
    assert _pages(data) == _pages(tmp_path / "direct")
    index = gx_suites.docs_index(data).read_text(encoding="utf-8")
    assert index.count('href="validations/') == 4


def test_results_of_changed_files_are_not_taken(tmp_path, rw, catalogue):
    """An early result counts only for the same file with the same content (sha256)."""
    data = tmp_path
    early.stage(data, rw, catalogue, start_worker=False)
    early.run_worker(data)
    first = sorted(early.results(data))[0][0]
    rw.execute("update audit.loads set sha256 = 'another' where source_file = ?", [first])
    got = gx_suites.run_validations(data, rw, catalogue)
    assert got["validated_early"] == 3 and len(got["validated"]) == 4
    runs = [p.parent.parent.name for p in (gx_suites.gx_root(data) / "gx" / "uncommitted" / "validations").rglob("*.json")]
    # the stale early result stays in the store (as any earlier validation would), next
    # to the one made for the file as it is now
    assert runs.count(gx_suites._run_name(first)) == 2 and len(runs) == 5


def test_large_batches_and_the_switch(tmp_path, rw, catalogue, monkeypatch):
    _early(monkeypatch, max_rows=11)
    out = early.stage(tmp_path, rw, catalogue)
    assert out["staged"] == 0 and out["rows"] == 12 and "max_rows 11" in out["reason"]
    assert not (early.early_dir(tmp_path) / early.MANIFEST).exists()
    _early(monkeypatch, enabled=False)
    assert early.stage(tmp_path, rw, catalogue)["reason"] == "quality.gx.early.enabled is off"
    monkeypatch.undo()
    assert early.settings(catalogue)["enabled"] is False  # the catalogue's default


def test_a_worker_that_overruns_is_stopped(tmp_path, catalogue, monkeypatch):
    _early(monkeypatch, wait_seconds=1)
    lock = early._open_lock(tmp_path)
    assert early._try_lock(lock, 0)
    # a stand-in worker holding the lock through an inherited descriptor, as the real one,
    # and deaf to SIGTERM (as a child of a process that ignores it is): SIGKILL follows
    proc = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, "
                             "signal.SIG_IGN); time.sleep(120)"], pass_fds=(lock.fileno(),))
    time.sleep(1)  # its handler in place
    lock.close()
    (early.early_dir(tmp_path) / early.PID).write_text(str(proc.pid), encoding="utf-8")
    started = time.monotonic()
    with early.waiting(tmp_path, catalogue) as waited:
        assert waited["stopped"] is True
        assert proc.wait(timeout=10) == -9
    assert time.monotonic() - started < 30
    # and ingest does not wait for ever on one either: it stages nothing
    lock = early._open_lock(tmp_path)
    assert early._try_lock(lock, 0)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], pass_fds=(lock.fileno(),))
    lock.close()
    try:
        out = early.stage(tmp_path, None, catalogue)
        assert out == {"staged": 0, "reason": "an earlier early validation is still running"}
    finally:
        proc.kill()
        proc.wait()
