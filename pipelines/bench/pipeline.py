"""Whole-pipeline benchmark (issue 7 "Performance at province scale").

For a scale of N subjects, in a fresh data directory:

1. ``credit demo-data --subjects N`` (subprocess; wall time, peak RSS of its tree);
2. the floor: DuckDB ``read_csv`` of every CSV in the inbox into tables, once
   (subprocess, same measurements);
3. ``credit run`` once (subprocess). Per-stage wall time is read from the Dagster event
   log in ``DAGSTER_HOME`` (STEP_START → STEP_SUCCESS/FAILURE of each step); per-stage
   peak memory is the highest RSS sample of the process tree (dbt runs as a child)
   inside the step's interval;
4. a ~1 % incremental batch (:func:`write_increment`: new records from a small demo
   world with another seed, plus re-deliveries of ~0.5 % of the existing CSV rows) in a
   new batch folder, and ``credit run`` again, measured the same way;
5. a second ~1 % batch (another seed and batch) and ``credit run --landing`` — what the
   inbox sensor runs when a batch lands: the whole graph but the department extracts,
   which are delivered on schedule;
6. ``credit run --landing`` once more with nothing new: the fixed costs of a landing
   (``landing_idle``), which no batch size changes.

Rows per second are input data rows (``audit.row_outcomes``) per stage second, so the
stages compare on one denominator. ::

    uv run python -m pipelines.bench.pipeline 100000 bench-output/pipeline
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .machine import loadavg, machine_info, run_measured

BENCH_KEY = "b3" * 32  # a fixed pseudonym key (hex) so runs are comparable
INCREMENT_BATCH = "20261110"
LANDING_BATCH = "20261112"  # the second 1 % batch, measured as the inbox sensor runs it
LANDING_SEED = 4343

# Dagster step key → stage name (in pipeline order).
STEPS = {
    "inbox__pulled_batches": "pull",
    "ingest_inbox": "ingest",
    "resolve_subject_codes": "codes",
    "credit_dbt": "dbt build",
    "reports__data_docs": "data docs",
    "data_quality_report": "quality report",
    "exports__department_extracts": "extracts",
    "reports__dbt_docs": "data dictionary",
}
# The step after which the marts hold the run's data.
MARTS_STEP = "credit_dbt"


def _bin(name: str) -> str:
    p = Path(sys.executable).parent / name
    return str(p) if p.exists() else name


def bench_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "CREDIT_DATA_DIR": str(data_dir),
        "DAGSTER_HOME": str(data_dir / "dagster_home"),
        "CREDIT_PSEUDONYM_KEY": os.environ.get("CREDIT_PSEUDONYM_KEY", BENCH_KEY),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "GX_ANALYTICS_ENABLED": "False",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    })
    env.pop("CREDIT_AS_OF", None)
    return env


# ---------------------------------------------------------------- floor


def floor_read_csv(inbox: Path, db: Path) -> dict:
    """DuckDB reading every CSV of the inbox once into a table (all VARCHAR). Files DuckDB
    cannot read as UTF-8 are retried as GB18030 text decoded in Python, so the floor covers
    the same rows the pipeline reads."""
    import duckdb

    if db.exists():
        db.unlink()
    files = sorted(p for p in inbox.rglob("*.csv") if not p.name.startswith("."))
    rows = nbytes = failed = 0
    t0 = time.perf_counter()
    with duckdb.connect(str(db)) as con:
        for i, f in enumerate(files):
            nbytes += f.stat().st_size
            sql = f"CREATE TABLE t{i} AS SELECT * FROM read_csv(?, all_varchar = true, ignore_errors = true)"
            try:
                con.execute(sql, [str(f)])
            except duckdb.Error:
                try:
                    con.execute(sql.replace("true)", "true, encoding = 'gb18030')"), [str(f)])
                except duckdb.Error:
                    failed += 1
                    continue
            rows += con.execute(f"SELECT count(*) FROM t{i}").fetchone()[0]
    return {"files": len(files), "files_failed": failed, "rows": rows, "csv_mb": round(nbytes / 1e6, 1),
            "seconds": round(time.perf_counter() - t0, 3)}


# ---------------------------------------------------------------- incremental batch


def activity_for(subjects: int, records: int | None) -> float:
    """The demo generator's ``activity`` giving about ``records`` input rows for
    ``subjects`` subjects: about 2 rows per subject do not scale (register, tax rating,
    lists), the routine records add about ``activity`` per subject."""
    if not records:
        return 1.0
    return max(1.0, round(records / subjects - 2.0, 2))


def write_increment(data_dir: Path, share: float = 0.01, seed: int = 4242,
                    batch: str = INCREMENT_BATCH, activity: float = 1.0,
                    redeliver_before: str | None = None) -> dict:
    """Add a batch folder ``inbox/<dept>/<batch>/`` with ~``share`` new/changed records:
    a demo world of ``share`` × the register's subjects (another seed; its files, with the
    usual injected errors, moved into ``batch``) plus re-deliveries of ``share / 2`` of the
    rows of each UTF-8 CSV of the latest regular batch before ``redeliver_before``
    (default ``batch``) into the batch a day later (same record keys, later batch → they
    supersede the earlier records)."""
    import polars as pl

    from ..demo import generate_demo

    inbox = Path(data_dir) / "inbox"
    reg_rows = 0
    for f in inbox.rglob("*"):
        if f.is_file() and f.suffix == ".csv" and ("registration" in f.name or "登记" in f.name):
            reg_rows += sum(1 for _ in f.open("rb")) - 1
    subjects = max(20, int(round(reg_rows * share)))
    new_files = new_rows = 0
    with tempfile.TemporaryDirectory(prefix="credit-incr-") as tmp:
        rep = generate_demo(Path(tmp), subjects=subjects, seed=seed, batches=1, activity=activity)
        new_rows = sum(rep.rows_by_category.values())
        tin = Path(tmp) / "inbox"
        for f in sorted(tin.rglob("*")):
            if not f.is_file():
                continue
            rel = f.relative_to(tin).parts
            if len(rel) != 3 or not re.match(r"^\d{4}-?\d{2}-?\d{2}(_2)?$", rel[1]):
                continue  # odd batch folders (bad_batch injections) are not part of the increment
            b = batch + ("_2" if rel[1].endswith("_2") else "")
            dst = inbox / rel[0] / b / rel[2]  # names kept: the category is read from them
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(f), dst)
            new_files += 1
    # re-deliveries from the latest regular batch of each department, a day later
    redelivery_batch = (dt.datetime.strptime(batch, "%Y%m%d") + dt.timedelta(days=1)).strftime("%Y%m%d")
    redelivered = 0
    for dept in sorted(p for p in inbox.iterdir() if p.is_dir()):
        batches = sorted(b.name for b in dept.iterdir() if b.is_dir()
                         and re.match(r"^\d{4}-?\d{2}-?\d{2}$", b.name)
                         and b.name.replace("-", "") < (redeliver_before or batch))
        if not batches:
            continue
        latest = dept / max(batches, key=lambda s: s.replace("-", ""))
        for f in sorted(latest.glob("*.csv")):
            try:
                df = pl.read_csv(f, infer_schema=False)
            except Exception:  # noqa: BLE001 - GBK or malformed files are not re-delivered
                continue
            k = int(df.height * share / 2)
            if k < 1:
                continue
            part = df.sample(k, seed=seed)
            dst = dept / redelivery_batch / f.name
            dst.parent.mkdir(parents=True, exist_ok=True)
            part.write_csv(dst)
            redelivered += k
            new_files += 1
    return {"batch": batch, "files": new_files, "new_rows": new_rows, "redelivered_rows": redelivered,
            "demo_subjects": subjects}


# ---------------------------------------------------------------- event log


def step_times(dagster_home: Path, run_index: int = 0) -> dict:
    """Per-step (start, end, ok) of the ``run_index``-th latest run in ``dagster_home``."""
    code = (
        "import json,sys\n"
        "from dagster import DagsterInstance\n"
        "with DagsterInstance.get() as inst:\n"
        f"    r = inst.get_runs(limit={run_index + 1})[{run_index}]\n"
        "    out = {'run_id': r.run_id, 'steps': {}}\n"
        "    for e in inst.all_logs(r.run_id):\n"
        "        ev = e.dagster_event\n"
        "        if ev is None: continue\n"
        "        t = ev.event_type_value\n"
        "        if t in ('RUN_START', 'PIPELINE_START'): out['run_start'] = e.timestamp\n"
        "        if t in ('RUN_SUCCESS', 'PIPELINE_SUCCESS', 'RUN_FAILURE', 'PIPELINE_FAILURE'):\n"
        "            out['run_end'] = e.timestamp\n"
        "        if t == 'STEP_START': out['steps'].setdefault(e.step_key, {})['start'] = e.timestamp\n"
        "        if t in ('STEP_SUCCESS', 'STEP_FAILURE'):\n"
        "            s = out['steps'].setdefault(e.step_key, {}); s['end'] = e.timestamp; s['ok'] = t == 'STEP_SUCCESS'\n"
        "    print(json.dumps(out))\n"
    )
    import subprocess

    env = dict(os.environ, DAGSTER_HOME=str(Path(dagster_home).resolve()))
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def marts_ready(st: dict, started: float) -> float | None:
    """Seconds from ``credit run``'s start until its dbt step committed the marts (the
    moment ``credit lookup``, the notebooks and analysts' queries see the new batch;
    quality report, extracts and data dictionary follow). None when dbt did not succeed."""
    s = st.get("steps", {}).get(MARTS_STEP)
    if not s or not s.get("ok") or "end" not in s:
        return None
    return round(s["end"] - started, 2)


def _counts(db: Path) -> dict:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        def one(sql: str) -> int:
            try:
                return int(con.execute(sql).fetchone()[0])
            except duckdb.Error:
                return 0
        return {
            "input_rows": one("SELECT count(*) FROM audit.row_outcomes"),
            "rows_loaded": one("SELECT count(*) FROM audit.row_outcomes WHERE outcome = 'loaded'"),
            "files": one("SELECT count(*) FROM audit.loads"),
            "subject_refs": one("SELECT count(*) FROM codes.subject_refs"),
            "subjects": one("SELECT count(*) FROM codes.subjects"),
            "credit_records": one("SELECT count(*) FROM marts.credit_records"),
            **_modes(con),
        }


def _modes(con) -> dict:
    """How the last run's code governance and evaluation worked: full or incremental/delta,
    why, and how much they recomputed."""
    import duckdb

    out: dict = {}
    for key, sql in (
        ("codes", "SELECT mode, reason, refs_classified, subjects_changed FROM codes.resolution_state "
                  "ORDER BY generation DESC LIMIT 1"),
        ("dbt", "SELECT mode, reason, changed_subjects, status FROM audit.dbt_builds ORDER BY build_id DESC LIMIT 1"),
    ):
        try:
            cur = con.execute(sql)
            row = cur.fetchone()
        except duckdb.Error:
            continue
        if row is not None:
            out[f"{key}_build"] = dict(zip([d[0] for d in cur.description], row, strict=True))
    return out


def _stage(seconds: float, rows: int, peak: int) -> dict:
    return {"seconds": round(seconds, 2), "rows": rows,
            "rows_per_s": round(rows / seconds) if seconds > 0 else None,
            "peak_rss_mb": round(peak / 1e6)}


def measure_run(data_dir: Path, workdir: Path, label: str, run_index: int = 0, *, landing: bool = False) -> dict:
    """``credit run`` (``--landing``: what the inbox sensor runs) in a subprocess; stages
    from the event log, peak RSS per stage."""
    env = bench_env(data_dir)
    load0 = loadavg()
    m = run_measured([_bin("credit"), "run", *(["--landing"] if landing else [])], env=env,
                     log=workdir / f"{label}.log")
    st = step_times(data_dir / "dagster_home", run_index)
    counts = _counts(data_dir / "warehouse" / "credit.duckdb")
    rows = counts["input_rows"]
    stages: dict[str, dict] = {}
    for key, name in STEPS.items():
        s = st["steps"].get(key)
        if not s or "end" not in s:
            continue
        stages[name] = _stage(s["end"] - s["start"], rows, m.sampler.peak(s["start"], s["end"]))
        stages[name]["ok"] = s.get("ok", False)
    steps_total = sum(v["seconds"] for v in stages.values())
    stages["startup+summary"] = _stage(m.seconds - steps_total, rows,
                                       m.sampler.peak(None, st.get("run_start")))
    return {
        "returncode": m.returncode,
        "seconds": round(m.seconds, 2),
        "marts_ready_seconds": marts_ready(st, m.started),
        "rows_per_s": round(rows / m.seconds) if m.seconds else None,
        "peak_rss_mb": round(m.peak_rss_bytes / 1e6),
        "stages": stages,
        "counts": counts,
        "loadavg_before": load0,
        "loadavg_after": loadavg(),
        "run_id": st.get("run_id"),
    }


def bench_pipeline(subjects: int = 1_000_000, out_dir: Path | str = "bench-output/pipeline", *,
                   records: int | None = 10_000_000, seed: int = 42, incremental: bool = True,
                   increment_share: float = 0.01, keep: bool = False) -> dict:
    out_dir = Path(out_dir).resolve()
    workdir = out_dir / f"s{subjects}"
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    data_dir = workdir / "data"
    env = bench_env(data_dir)
    activity = activity_for(subjects, records)
    result: dict = {"subjects": subjects, "records_target": records, "activity": activity, "seed": seed,
                    "started": dt.datetime.now().isoformat(timespec="seconds"),
                    "machine": machine_info()}
    t_all = time.perf_counter()

    demo = run_measured([_bin("credit"), "demo-data", "--subjects", str(subjects), "--seed", str(seed),
                         "--activity", str(activity)],
                        env=env, log=workdir / "demo.log")
    if demo.returncode:
        raise RuntimeError(f"credit demo-data failed, see {workdir / 'demo.log'}")
    inbox = data_dir / "inbox"
    demo_rows = _demo_rows(workdir / "demo.log")
    inbox_bytes = sum(f.stat().st_size for f in inbox.rglob("*") if f.is_file())
    result["inbox"] = {"rows": demo_rows, "files": sum(1 for f in inbox.rglob("*") if f.is_file()),
                       "mb": round(inbox_bytes / 1e6, 1)}
    result["demo"] = _stage(demo.seconds, demo_rows, demo.peak_rss_bytes)

    fl = run_measured([sys.executable, "-m", "pipelines.bench.pipeline", "--floor", str(inbox),
                       str(workdir / "floor.duckdb")], env=env, log=workdir / "floor.log")
    floor = json.loads((workdir / "floor.log").read_text().strip().splitlines()[-1])
    floor.update(process_seconds=round(fl.seconds, 2), peak_rss_mb=round(fl.peak_rss_bytes / 1e6),
                 rows_per_s=round(floor["rows"] / floor["seconds"]) if floor["seconds"] else None)
    (workdir / "floor.duckdb").unlink(missing_ok=True)
    result["floor"] = floor

    _partial(workdir, result)
    result["full"] = measure_run(data_dir, workdir, "run_full")
    _partial(workdir, result)
    if incremental:
        inc = run_measured([sys.executable, "-m", "pipelines.bench.pipeline", "--increment", str(data_dir),
                            str(increment_share), str(activity)], env=env, log=workdir / "increment.log")
        result["increment_batch"] = json.loads((workdir / "increment.log").read_text().strip().splitlines()[-1])
        result["increment_batch"]["write_seconds"] = round(inc.seconds, 2)
        result["incremental"] = measure_run(data_dir, workdir, "run_incremental")
        result["incremental_vs_full"] = round(result["incremental"]["seconds"] / result["full"]["seconds"], 3)
        _partial(workdir, result)
        result["landing_batch"] = write_increment(data_dir, increment_share, seed=LANDING_SEED, batch=LANDING_BATCH,
                                                  activity=activity, redeliver_before=INCREMENT_BATCH)
        result["landing"] = measure_run(data_dir, workdir, "run_landing", landing=True)
        result["landing_vs_full"] = round(result["landing"]["seconds"] / result["full"]["seconds"], 3)
        _partial(workdir, result)
        # the same run again with nothing new: a landing's fixed costs, whatever the batch
        result["landing_idle"] = measure_run(data_dir, workdir, "run_landing_idle", landing=True)
        result["landing_idle_vs_full"] = round(result["landing_idle"]["seconds"] / result["full"]["seconds"], 3)
    result["total_seconds"] = round(time.perf_counter() - t_all, 1)
    result["targets"] = _targets(result)
    if not keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    return result


def _partial(workdir: Path, result: dict) -> None:
    """What is measured so far (a long run that dies keeps its numbers)."""
    (workdir / "partial.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")


def _demo_rows(log: Path) -> int:
    m = re.search(r"(\d+) row\(s\)", log.read_text(encoding="utf-8", errors="replace"))
    return int(m.group(1)) if m else 0


def _targets(r: dict) -> dict:
    full = r["full"]
    out = {"full_run_within_10_min": full["seconds"] <= 600,
           "peak_under_8_gb": full["peak_rss_mb"] < 8000}
    if "incremental" in r:
        out["incremental_within_10pct"] = r["incremental_vs_full"] <= 0.10
    if "landing" in r:
        out["landing_within_10pct"] = r["landing_vs_full"] <= 0.10
    return out


def scaling(results: list[dict]) -> dict:
    """Per stage, the exponent k in seconds ∝ rows^k between the smallest and largest
    scale (k ≤ ~1: no worse than linear)."""
    import math

    rs = sorted((r for r in results if "full" in r), key=lambda r: r["full"]["counts"]["input_rows"])
    if len(rs) < 2:
        return {}
    a, b = rs[0], rs[-1]
    ra, rb = a["full"]["counts"]["input_rows"], b["full"]["counts"]["input_rows"]
    out = {}
    pairs = {"demo": (a["demo"], b["demo"]), **{k: (a["full"]["stages"].get(k), b["full"]["stages"].get(k))
                                                for k in b["full"]["stages"]}}
    for k, (x, y) in pairs.items():
        if x and y and x["seconds"] > 0 and y["seconds"] > 0 and rb > ra:
            out[k] = round(math.log(y["seconds"] / x["seconds"]) / math.log(rb / ra), 2)
    return {"from_rows": ra, "to_rows": rb, "exponent": out}


if __name__ == "__main__":
    if sys.argv[1] == "--floor":
        print(json.dumps(floor_read_csv(Path(sys.argv[2]), Path(sys.argv[3]))))
    elif sys.argv[1] == "--increment":
        print(json.dumps(write_increment(Path(sys.argv[2]), float(sys.argv[3]),
                                         activity=float(sys.argv[4]) if len(sys.argv) > 4 else 1.0)))
    else:
        n = int(sys.argv[1])
        out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("bench-output/pipeline")
        print(json.dumps(bench_pipeline(n, out), ensure_ascii=False, indent=2))
