"""Early validation: the files still to validate (a new batch, or what landings left)
validated with great-expectations while code governance and dbt run, so the Data Docs
step (asset ``reports/data_docs``) only collects the results.

Great-expectations costs about a third of a second per delivered file whatever its size,
and a 1 % batch has two thirds of a full inbox's files: validated after dbt, that was a
third of a landing run (which since leaves the Data Docs to the whole-graph runs). The files only need the warehouse to be
*read* (their loaded rows and rejected rows), and the writers after ingestion (code
governance, dbt) lock every other process out of the DuckDB file. So:

1. :func:`stage` — in the ingest step, which holds the write connection: the frames of
   the files still to validate (:func:`pipelines.quality.gx_suites.files_to_validate`,
   the same selection as the Data Docs step's), masked and typed exactly as the Data Docs
   step would read them (``batch_frame``), are written to ``reports/gx/early/frames/``
   as Parquet with a manifest, and one worker process is started (``python -m
   pipelines.quality.early``, at a lower CPU priority: dbt and ``credit lookup``'s
   marts come first). Only batches up to ``quality.gx.early.max_rows`` rows are staged:
   a full inbox is validated by the Data Docs step as before (with its worker processes),
   not beside dbt's memory.
2. The worker validates each frame with the category's checkpoint (results stored in
   GX's validation store like any other) and records, per file, the statistics and the
   result's identifier in ``results.json`` (rewritten after each file); then it renders
   their Data Docs pages and the index (``rendered.json``).
3. :func:`waiting` — in the Data Docs step: waits for the worker (the lock it holds),
   then ``run_validations`` takes each file's early result when the file and its sha256
   match and validates the rest from the warehouse itself, renders the pages the worker
   did not (and then the index), and clears the early folder. When the worker did it
   all, the Data Docs step does not even import GX.

Nothing depends on the worker: a file it did not validate (it failed, was stopped, or
was never started) is validated by the Data Docs step as if there were no early worker,
and the results are the same (tests/quality/test_gx_early.py compares them). The lock is
an ``flock`` on ``early/.lock``, taken by the ingest step and handed to the worker with
its file descriptor, so it is held from staging until the worker exits.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from ..catalogue import Catalogue
from .gx_suites import (
    _checkpoint,
    _settings,
    _suites_state_path,
    _write_atomic,
    batch_frame,
    build_docs,
    files_to_validate,
    get_context,
    gx_root,
    read_state,
    validate_frame,
)

log = logging.getLogger(__name__)

LOCK = ".lock"
MANIFEST = "manifest.json"
RESULTS = "results.json"
RENDERED = "rendered.json"
PID = "worker.pid"
LOG = "worker.log"
FRAMES = "frames"
_LOCK_FD_ENV = "CREDIT_EARLY_LOCK_FD"


def early_dir(data_dir: Path | str) -> Path:
    return gx_root(data_dir) / "early"


def settings(catalogue: Catalogue) -> dict[str, Any]:
    """``quality.gx.early`` (catalogs/quality.yaml)."""
    return dict(_settings(catalogue).get("early") or {})


def _try_lock(f, timeout: float) -> bool:
    """Take the exclusive ``flock`` on ``f`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)


def _open_lock(data_dir: Path | str):
    d = early_dir(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    return open(d / LOCK, "a+")


def results(data_dir: Path | str) -> dict[tuple[str, str], tuple[int, list[Any]]]:
    """What the worker validated: (source file, sha256) → (rows, [(statistics, result id
    tuple)]), the shape ``run_validations`` uses."""
    path = early_dir(data_dir) / RESULTS
    try:
        done = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {(r["source_file"], r["sha256"]): (int(r["rows"]), [(s, tuple(i)) for s, i in r["ids"]]) for r in done}


def rendered(data_dir: Path | str) -> set[tuple[str, str]]:
    """(source file, sha256) of the results whose Data Docs pages the worker rendered,
    with the index after them."""
    try:
        return {tuple(k) for k in json.loads((early_dir(data_dir) / RENDERED).read_text(encoding="utf-8"))}
    except (OSError, ValueError):
        return set()


def clear(data_dir: Path | str) -> None:
    """Remove the staged frames, the manifest and the results (the lock file stays)."""
    d = early_dir(data_dir)
    shutil.rmtree(d / FRAMES, ignore_errors=True)
    for name in (MANIFEST, RESULTS, RENDERED, PID):
        (d / name).unlink(missing_ok=True)


def stage(data_dir: Path | str, con, catalogue: Catalogue, *, start_worker: bool = True) -> dict[str, Any]:
    """Write the frames of the files still to validate and start the worker (see the
    module). ``con``: a connection to the warehouse (the ingest step's). Returns what was
    done: ``{"staged": files, "rows": rows, "reason": why not, "pid": worker}``."""
    cfg = settings(catalogue)
    if not cfg.get("enabled", True):
        return {"staged": 0, "reason": "quality.gx.early.enabled is off"}
    d = early_dir(data_dir)
    lock = _open_lock(data_dir)
    try:
        if not _try_lock(lock, float(cfg.get("wait_seconds", 600))):
            return {"staged": 0, "reason": "an earlier early validation is still running"}
        done = results(data_dir)  # validated early, not yet collected: kept
        shutil.rmtree(d / FRAMES, ignore_errors=True)
        (d / MANIFEST).unlink(missing_ok=True)
        todo, _ = files_to_validate(con, catalogue, read_state(data_dir, catalogue))
        todo = [t for t in todo if (t["source_file"], t["sha256"]) not in done]
        rows = sum(t["rows"] for t in todo)
        if not todo:
            return {"staged": 0, "rows": 0, "reason": "no file to validate"}
        max_rows = int(cfg.get("max_rows", 0) or 0)
        if rows > max_rows:
            return {"staged": 0, "rows": rows,
                    "reason": f"{rows} rows > quality.gx.early.max_rows {max_rows}: validated in the Data Docs step"}
        (d / FRAMES).mkdir(parents=True)
        tasks = []
        for i, t in enumerate(todo):
            frame = batch_frame(con, catalogue.category(t["category"]), t["source_file"], t["batch_date"])
            name = f"{i:05d}.parquet"
            frame.to_parquet(d / FRAMES / name, index=False)
            tasks.append({**t, "batch_date": t["batch_date"].isoformat(), "frame": name,
                          "dtypes": {str(c): str(dt) for c, dt in frame.dtypes.items()}})
        _write_atomic(d / MANIFEST, json.dumps(tasks, ensure_ascii=False, indent=1))
        out: dict[str, Any] = {"staged": len(tasks), "rows": rows}
        if start_worker:
            out["pid"] = _start_worker(data_dir, lock, int(cfg.get("nice", 0) or 0))
        return out
    finally:
        # Closing our descriptor does not release the lock while the worker holds its copy.
        lock.close()


def _start_worker(data_dir: Path | str, lock, nice: int) -> int:
    d = early_dir(data_dir)
    env = {**os.environ, _LOCK_FD_ENV: str(lock.fileno())}
    with open(d / LOG, "wb") as out:  # the log of the latest early validation
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipelines.quality.early", str(data_dir), str(nice)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
            pass_fds=(lock.fileno(),),
        )
    (d / PID).write_text(str(proc.pid), encoding="utf-8")
    return proc.pid


@contextlib.contextmanager
def waiting(data_dir: Path | str, catalogue: Catalogue) -> Iterator[dict[str, Any]]:
    """Wait for the worker (at most ``quality.gx.early.wait_seconds``; then it is stopped
    and its remaining files are validated by the caller) and keep it locked out while the
    caller collects. Yields ``{"waited": seconds, "stopped": bool}``."""
    timeout = float(settings(catalogue).get("wait_seconds", 600))
    started = time.monotonic()
    lock = _open_lock(data_dir)
    info: dict[str, Any] = {"stopped": False}
    try:
        if not _try_lock(lock, timeout):
            try:
                pid = int((early_dir(data_dir) / PID).read_text(encoding="utf-8"))
                os.kill(pid, signal.SIGTERM)
                # A process started by one that ignores SIGTERM inherits that: then SIGKILL.
                if not _try_lock(lock, 10):
                    os.kill(pid, signal.SIGKILL)
                info["stopped"] = True
                log.warning("early validation (pid %s) still running after %.0f s: stopped", pid, timeout)
            except (OSError, ValueError) as e:
                log.warning("early validation still running, could not be stopped: %s", e)
            if not _try_lock(lock, 60):
                raise TimeoutError(f"{early_dir(data_dir) / LOCK} is still held")
        info["waited"] = round(time.monotonic() - started, 2)
        yield info
    finally:
        lock.close()


def run_worker(data_dir: Path | str) -> int:
    """The worker: validate every staged frame, recording each result as it comes."""
    from ..catalogue import load_catalogue

    d = early_dir(data_dir)
    catalogue = load_catalogue()
    tasks = json.loads((d / MANIFEST).read_text(encoding="utf-8"))
    result_format = str(_settings(catalogue).get("result_format", "SUMMARY"))
    ctx = get_context(data_dir)
    suites_path = _suites_state_path(data_dir)
    try:
        saved: dict[str, str] = json.loads(suites_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        saved = {}
    try:
        done = json.loads((d / RESULTS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        done = []
    checkpoints: dict[str, Any] = {}
    started = time.monotonic()
    for t in tasks:
        path = d / FRAMES / t["frame"]
        try:
            category = catalogue.category(t["category"])
            if category.id not in checkpoints:
                checkpoints[category.id] = _checkpoint(ctx, category, catalogue, result_format, saved)
            frame = pd.read_parquet(path)
            # Parquet has no second-resolution timestamps: the dtypes batch_frame gave.
            frame = frame.astype({c: dt for c, dt in t["dtypes"].items() if str(frame[c].dtype) != dt})
            task = {**t, "batch_date": pd.Timestamp(t["batch_date"])}
            rows, ids = validate_frame(catalogue, checkpoints[category.id], task, frame)
            done.append({"source_file": t["source_file"], "sha256": t["sha256"], "rows": rows,
                         "ids": [[s, list(i)] for s, i in ids]})
            _write_atomic(d / RESULTS, json.dumps(done, ensure_ascii=False))
        except Exception:  # noqa: BLE001 - left to the Data Docs step, which validates it itself
            log.exception("%s: not validated early (the Data Docs step validates it)", t["source_file"])
        path.unlink(missing_ok=True)
    _write_atomic(suites_path, json.dumps(saved, indent=1, sort_keys=True))
    (d / MANIFEST).unlink(missing_ok=True)
    log.info("early validation: %d of %d file(s) in %.1f s", len(done), len(tasks), time.monotonic() - started)
    # Their Data Docs pages and the index too, so the Data Docs step need not import GX.
    from great_expectations.data_context.types.resource_identifiers import (
        ValidationResultIdentifier,
    )

    shown = rendered(data_dir)
    ids = [ValidationResultIdentifier.from_tuple(tuple(i)) for r in done
           if (r["source_file"], r["sha256"]) not in shown for _, i in r["ids"]]
    if ids:
        started = time.monotonic()
        mode = build_docs(ctx, data_dir, ids)
        shown |= {(r["source_file"], r["sha256"]) for r in done}
        _write_atomic(d / RENDERED, json.dumps(sorted(shown), ensure_ascii=False))
        log.info("Data Docs (%s): %d page(s) in %.1f s", mode, len(ids), time.monotonic() - started)
    return 0


def main(argv: list[str]) -> int:
    """``python -m pipelines.quality.early DATA_DIR [NICE]``: the worker process. The lock
    descriptor inherited from the ingest step stays open until it exits."""
    import warnings

    os.environ.pop(_LOCK_FD_ENV, None)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # stoppable even if the parent ignored it
    if len(argv) > 1 and int(argv[1]):
        os.nice(int(argv[1]))
    # GX's own chatter (config substitution, closures not registered, a regex with groups
    # read by pandas' str.contains) is not for the log an operator reads.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    log.setLevel(logging.INFO)
    warnings.filterwarnings("ignore", message="This pattern is interpreted as a regular expression")
    return run_worker(argv[0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
