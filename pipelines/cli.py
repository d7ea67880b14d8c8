"""``credit``: the command line of the credit-information warehouse (信用信息归集平台).

    credit demo-data [--subjects N] [--seed S] [--batches B] [--error-rate R] [--activity K]
    credit run [--as-of YYYY-MM-DD] [--select SELECTION] [--full-build]
    credit pull
    credit check-code CODE...
    credit lookup CODE_OR_NAME
    credit report CODE_OR_NAME
    credit redraw --department D --period P
    credit ui [--port P]

Everything is found through ``CREDIT_DATA_DIR`` (default ``./data``). ``DAGSTER_HOME``
defaults to ``$CREDIT_DATA_DIR/dagster_home`` and receives the project's ``dagster.yaml``,
so run history survives between ``credit run`` and the UI.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from pipelines.settings import PROJECT_ROOT, Paths

# Nothing phones home: dbt, Great Expectations, Dagster, marimo (update check).
TELEMETRY_OFF = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "GX_ANALYTICS_ENABLED": "False",
    "DAGSTER_DISABLE_TELEMETRY": "1",
    "MARIMO_SKIP_UPDATE_CHECK": "1",
}
# Dagster sends the events it plans when a run is created as one batch (written in one
# transaction per database by pipelines.event_log, configured in dagster.yaml).
DAGSTER_ENV = {"DAGSTER_EVENT_BATCH_SIZE": "1000"}
AS_OF_ENV = "CREDIT_AS_OF"
AS_OF_TAG = "credit/as_of"
PIPELINE_JOB = "credit_pipeline"
LANDING_JOB = "credit_landing"  # what the inbox sensor runs: all but the scheduled extracts


def prepare_environment() -> Paths:
    """Resolve ``CREDIT_DATA_DIR`` to an absolute path, set ``DAGSTER_HOME`` (default
    ``$CREDIT_DATA_DIR/dagster_home``) with the project's ``dagster.yaml`` in it, and
    turn telemetry off. Returns the paths."""
    paths = Paths.from_env()
    os.environ["CREDIT_DATA_DIR"] = str(paths.data_dir)
    _put_env_bin_on_path()
    for k, v in {**TELEMETRY_OFF, **DAGSTER_ENV}.items():
        os.environ.setdefault(k, v)
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(paths.dagster_home))).resolve()
    os.environ["DAGSTER_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    src = PROJECT_ROOT / "dagster.yaml"
    dst = home / "dagster.yaml"
    # The project's instance config is the source of truth for the project's own
    # DAGSTER_HOME; an instance the user points at elsewhere is only seeded.
    if src.is_file() and (not dst.exists() or (home == paths.dagster_home.resolve()
                                               and dst.read_bytes() != src.read_bytes())):
        shutil.copyfile(src, dst)
    return paths


def _put_env_bin_on_path() -> None:
    """``dbt`` and ``dagster`` of this environment must be found even when ``credit`` is
    called as ``.venv/bin/credit`` without activating the environment."""
    bin_dir = str(Path(sys.executable).parent)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if bin_dir not in parts:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *[p for p in parts if p]])


def _inbox_files(paths: Paths) -> int:
    if not paths.inbox.is_dir():
        return 0
    return sum(1 for p in paths.inbox.rglob("*") if p.is_file() and not p.name.startswith("."))


# --- commands ----------------------------------------------------------------------


def cmd_demo_data(args: argparse.Namespace) -> int:
    paths = prepare_environment()
    from pipelines.demo import generate_demo

    kwargs: dict = {"subjects": args.subjects, "seed": args.seed, "batches": args.batches,
                    "error_rate": args.error_rate, "activity": args.activity}
    if args.as_of:
        kwargs["as_of"] = args.as_of
    report = generate_demo(paths.data_dir, **kwargs)
    files = getattr(report, "files", None) or []
    rows = getattr(report, "rows_by_category", None) or {}
    print(f"demo-data (示例数据): {len(files)} file(s), {sum(rows.values())} row(s), "
          f"{getattr(report, 'subjects', args.subjects)} subject(s) → {paths.inbox}")
    for cat, n in sorted(rows.items()):
        print(f"  {cat:<26} {n:>8}")
    print(f"Ground truth (for tests and the conservation score): {paths.data_dir / 'demo_truth'}")
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    paths = prepare_environment().ensure()
    from pipelines.catalogue import load_catalogue
    from pipelines.ingest import pull_sources

    pulled = list(pull_sources(paths, load_catalogue()) or [])
    print(f"pull (拉取): {len(pulled)} new batch(es) copied into {paths.inbox}")
    for b in pulled:
        dept, batch = getattr(b, "department_code", "?"), getattr(b, "batch", "?")
        print(f"  {dept}/{batch}  {len(getattr(b, 'files', []) or [])} file(s)  from {getattr(b, 'source', '')}")
    return 0


def cmd_check_code(args: argparse.Namespace) -> int:
    from pipelines.codes.cli import main_check_code

    return int(main_check_code(list(args.codes)) or 0)


def _built_warehouse() -> Paths | None:
    """The paths, when a warehouse has been built; otherwise say so and return None."""
    paths = prepare_environment()
    if not paths.warehouse.exists():
        print(f"no warehouse at {paths.warehouse}: run `credit run` first", file=sys.stderr)
        return None
    return paths


def cmd_lookup(args: argparse.Namespace) -> int:
    paths = _built_warehouse()
    if paths is None:
        return 2
    import duckdb

    from pipelines.warehouse.lookup import format_lookup, lookup

    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        result = lookup(con, " ".join(args.query), as_of=args.as_of)
    except duckdb.CatalogException as e:
        print(f"the marts are not built yet (run `credit run`): {e}".splitlines()[0],
              file=sys.stderr)
        return 2
    finally:
        con.close()
    print(format_lookup(result))
    return 0 if result.get("found") else 1


def cmd_report(args: argparse.Namespace) -> int:
    paths = _built_warehouse()
    if paths is None:
        return 2
    import duckdb

    from pipelines.warehouse.report import write_subject_report

    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        path = write_subject_report(con, " ".join(args.query), paths.reports / "subjects", as_of=args.as_of)
    except LookupError as e:
        print(str(e), file=sys.stderr)
        return 1
    finally:
        con.close()
    print(f"信用报告: {path}")
    return 0


def cmd_redraw(args: argparse.Namespace) -> int:
    paths = _built_warehouse()
    if paths is None:
        return 2
    from pipelines.deliver.redraw import redraw_cli

    return redraw_cli(args.department, args.period, args.version, warehouse=paths.warehouse)


def _query(paths: Paths, sql: str, *, wait_s: float = 15.0) -> list[tuple] | None:
    """Rows of a read-only query; ``[]`` when there is no warehouse or table yet, ``None``
    when the warehouse stays locked by another process."""
    import time

    import duckdb

    if not paths.warehouse.exists():
        return []
    deadline = time.monotonic() + wait_s
    while True:
        try:
            con = duckdb.connect(str(paths.warehouse), read_only=True)
            break
        except duckdb.Error:
            if time.monotonic() > deadline:
                return None
            time.sleep(0.5)
    try:
        return con.execute(sql).fetchall()
    except duckdb.Error:
        return []
    finally:
        con.close()


def print_summary(paths: Paths) -> None:
    """Files and rows by outcome (whole warehouse), and where the results are."""
    files = _query(paths, "select status, count(*) from audit.loads group by 1")
    rows = _query(paths, "select outcome, count(*) from audit.row_outcomes group by 1", wait_s=1)
    if files is None or rows is None:
        print("Files and rows: the warehouse is locked by another process; see audit.loads later.")
    else:
        files, rows = dict(files), dict(rows)
        print("Files (audit.loads):        " + ", ".join(
            f"{k} {files.get(k, 0)}" for k in ("loaded", "duplicate_file", "rejected_file")))
        print("Rows (audit.row_outcomes):  " + ", ".join(
            f"{k} {rows.get(k, 0)}" for k in ("loaded", "rejected", "duplicate", "superseded")))
    print(f"Warehouse: {paths.warehouse}")
    print(f"Exports:   {paths.exports}")
    print(f"Reports:   {paths.reports}")
    print(f"Run history (DAGSTER_HOME): {os.environ.get('DAGSTER_HOME', paths.dagster_home)}"
          "  — browse with `make ui`")


def _loads_metadata(result) -> dict[str, int]:
    """The ingest step's file counts for this run (metadata of ``audit/loads``)."""
    from dagster import AssetKey

    key = AssetKey(["audit", "loads"])
    out: dict[str, int] = {}
    try:
        mats = result.asset_materializations_for_node("ingest_inbox")
    except Exception:  # the ingest step did not run
        return out
    for mat in mats:
        if mat.asset_key == key:
            for k, v in mat.metadata.items():
                if k.startswith("files_") and isinstance(getattr(v, "value", None), int):
                    out[k] = v.value
    return out


def cmd_run(args: argparse.Namespace) -> int:
    paths = prepare_environment().ensure()
    tags = {"credit/trigger": "cli"}
    previous_as_of = os.environ.get(AS_OF_ENV)
    if args.as_of:
        tags[AS_OF_TAG] = args.as_of.isoformat()
        os.environ[AS_OF_ENV] = args.as_of.isoformat()
    if _inbox_files(paths) == 0:
        print(f"note: the inbox {paths.inbox} is empty (try `credit demo-data`).")

    from dagster import DagsterInstance

    from pipelines.definitions import defs

    job = defs.resolve_job_def(LANDING_JOB if args.landing else PIPELINE_JOB)
    if args.landing:
        tags["credit/trigger"] = "cli-landing"
    selection = None
    if args.select:
        from dagster import AssetSelection

        graph = defs.resolve_asset_graph()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # A multi-asset (ingest, codes) runs whole: take its siblings along.
                sel = AssetSelection.from_string(args.select).required_multi_asset_neighbors()
                selection = sorted(sel.resolve(graph))
        except Exception as e:
            print(f"--select {args.select!r}: {e}", file=sys.stderr)
            return 2
        if not selection:
            print(f"--select {args.select!r} matches no asset", file=sys.stderr)
            return 2
        tags["credit/select"] = args.select[:200]
    # Tools' own output (dbt streams every node to stdout) goes to a log file unless -v:
    # the terminal gets the short summary below.
    log_path = paths.data_dir / "logs" / "credit-run.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with DagsterInstance.get() as instance, open(log_path, "w", encoding="utf-8") as log_file, \
                (contextlib.nullcontext() if args.verbose else contextlib.redirect_stdout(log_file)):
            log_level = "INFO" if args.verbose else "WARNING"
            run_config: dict = {"loggers": {"console": {"config": {"log_level": log_level}}}}
            if args.full_build:
                run_config["ops"] = {"credit_dbt": {"config": {"full_build": True}}}
            result = job.execute_in_process(
                run_config=run_config,
                instance=instance, tags=tags, raise_on_error=False, asset_selection=selection)
            run_id = result.run_id
            failures = [e for e in result.all_events if e.is_step_failure]
            checks = result.get_asset_check_evaluations()
            this_run = _loads_metadata(result)
    finally:
        if args.as_of:
            if previous_as_of is None:
                os.environ.pop(AS_OF_ENV, None)
            else:
                os.environ[AS_OF_ENV] = previous_as_of

    print(f"credit run {run_id[:8]}: {'succeeded' if result.success else 'FAILED'}"
          + (f" (as of {args.as_of})" if args.as_of else ""))
    if this_run:
        parts = ", ".join(f"{k.removeprefix('files_')} {v}" for k, v in sorted(this_run.items())
                          if k.startswith("files_") and k != "files_new")
        print(f"This run: {this_run.get('files_new', 0)} new file(s) ({parts or 'none'})")
    print_summary(paths)
    if args.landing:
        print("Landing run: department extracts and the new files' Data Docs not written (credit run "
              "and the daily run write them; the extracts also the monthly evaluation).")
    if not args.verbose:
        print(f"Log of this run (dbt output): {log_path}")
    flagged = [c for c in checks if not c.passed]
    for c in flagged:
        desc = getattr(c, "description", None) or ""
        print(f"  check {c.asset_key.to_user_string()} {c.check_name}: "
              f"{c.severity.value} {desc}".rstrip())
    for e in failures:
        err = e.step_failure_data.error if e.step_failure_data else None
        while err is not None and err.cause is not None:
            err = err.cause
        msg = err.message.strip() if err else e.message
        print(f"  step failed: {e.step_key}: {msg}", file=sys.stderr)
    return 0 if result.success else 1


def cmd_ui(args: argparse.Namespace) -> int:
    paths = prepare_environment().ensure()
    cmd = [sys.executable, "-m", "dagster", "dev", "-m", "pipelines.definitions",
           "-h", args.host, "-p", str(args.port)]
    print(f"Dagster UI on http://{args.host}:{args.port}  (data: {paths.data_dir}, "
          f"DAGSTER_HOME: {os.environ['DAGSTER_HOME']})")
    try:
        return subprocess.call(cmd, cwd=PROJECT_ROOT)
    except KeyboardInterrupt:
        return 0


# --- parser --------------------------------------------------------------------------


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {value!r}") from None


def _positive(value: str) -> float:
    try:
        v = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {value!r}")
    return v


def _rate(value: str) -> float:
    r = float(value)
    if not 0 <= r <= 1:
        raise argparse.ArgumentTypeError("error rate must be between 0 and 1")
    return r


def _subject_query_args(p: argparse.ArgumentParser) -> None:
    """A subject named by 统一社会信用代码, legacy code or name; an evaluation date."""
    p.add_argument("query", nargs="+", metavar="CODE_OR_NAME")
    p.add_argument("--as-of", type=_date, default=None, help="evaluation date YYYY-MM-DD")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="credit",
        description="Credit-information warehouse of the social credit office (信用办): "
        "collect departments' exports (归集), govern subject codes (重错码治理), build "
        "the credit marts and grades. Data lives in $CREDIT_DATA_DIR (default ./data).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("demo-data", help="write a synthetic sample inbox (示例数据)",
                       description="Write a realistic synthetic inbox for every department "
                       "(deterministic for a seed, with the errors real exports have).")
    p.add_argument("--subjects", type=int, default=2000, help="number of subjects (市场主体), default 2000")
    p.add_argument("--seed", type=int, default=42, help="random seed, default 42")
    p.add_argument("--batches", type=int, default=3, help="delivery batches (批次) per department, default 3")
    p.add_argument("--error-rate", type=_rate, default=0.03, help="share of rows with injected errors, default 0.03")
    p.add_argument("--as-of", type=_date, default=None, help="date of the last batch, YYYY-MM-DD")
    p.add_argument("--activity", type=_positive, default=1.0,
                   help="multiplies the routine records (licences, inspections, commitments) per "
                   "subject: 1 gives about 3 records per subject (default), 8 about 10")
    p.set_defaults(func=cmd_demo_data)

    p = sub.add_parser("run", help="run the whole pipeline headless (归集 → 治理 → 评价 → 导出)",
                       description="Materialise the whole asset graph on $CREDIT_DATA_DIR/inbox. "
                       "Rejected rows and files are data, not failures: exit 0 unless the "
                       "pipeline itself fails.")
    p.add_argument("--as-of", type=_date, default=None,
                   help="evaluation date (评价基准日) YYYY-MM-DD, default today")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--select", default=None, metavar="SELECTION",
                       help="only these assets (Dagster selection syntax, e.g. 'group:ingest or "
                       "group:codes'); default: the whole graph")
    which.add_argument("--landing", action="store_true",
                       help="what the inbox sensor runs when a batch lands (job credit_landing): "
                       "everything but the department extracts, which follow on schedule")
    p.add_argument("--full-build", action="store_true",
                   help="rebuild every evaluation model from all records (default: a re-run for the "
                   "same date recomputes only the subjects that changed)")
    p.add_argument("-v", "--verbose", action="store_true", help="show Dagster's step log")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("pull", help="copy new batches from department sources into the inbox (拉取)")
    p.set_defaults(func=cmd_pull)

    p = sub.add_parser("check-code", help="check identifiers (统一社会信用代码, 身份证号 …)",
                       description="Check one or more codes and explain what is wrong.")
    p.add_argument("codes", nargs="+", metavar="CODE")
    p.set_defaults(func=cmd_check_code)

    p = sub.add_parser("lookup", help="a subject's grade, records and sanctions (逢办必查)",
                       description="Find a subject by 统一社会信用代码, legacy code or name and "
                       "print its grade, score, active records and applicable sanctions. "
                       "Exit 0 when found, 1 when not found or ambiguous.")
    _subject_query_args(p)
    p.set_defaults(func=cmd_lookup)

    p = sub.add_parser("report", help="a subject's printable credit report, HTML (信用报告)",
                       description="Write $CREDIT_DATA_DIR/reports/subjects/<subject_id>.html: "
                       "subject, grade history, score breakdown, public records, repairs, "
                       "objections. Self-contained, opens offline, prints on A4.")
    _subject_query_args(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("redraw", help="re-draw a published 双随机 list and compare (复核抽查结果)",
                       description="Recompute a published inspection draw from its seed, period "
                       "and the subject codes, and report whether it matches the published list. "
                       "Exit 0 match, 1 differs, 2 nothing published.")
    p.add_argument("--department", required=True, help="department code, e.g. scjg")
    p.add_argument("--period", required=True, help="period, e.g. 2026-Q4")
    p.add_argument("--version", type=int, default=None, help="published version (default: latest)")
    p.set_defaults(func=cmd_redraw)

    p = sub.add_parser("ui", help="open the Dagster UI on the same data (dagster dev)")
    p.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (loopback only)")
    p.add_argument("--port", type=int, default=3000, help="default 3000")
    p.set_defaults(func=cmd_ui)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
