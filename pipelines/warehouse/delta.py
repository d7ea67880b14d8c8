"""Full or delta: how the evaluation (the dbt build) follows the change.

A full build recomputes every intermediate model and mart from all records. After a
small delivery that is nearly all repeated work: the evaluation is partitioned by subject
(every row of a subject-level model depends only on that subject's records, register
entry and configuration), so a re-run for the **same evaluation date** needs to recompute
only the subjects whose inputs changed. Code governance logs exactly those in
``codes.subject_changes`` (one generation per resolution run); the dbt models update
their rows of those subjects in place (``dbt_project/macros/delta.sql``).

:func:`plan_build` decides, from ``audit.dbt_builds`` (one row per build: mode, as_of,
fingerprint, the code-governance generation it consumed, status), and the pipeline
passes the decision to dbt (:func:`dbt_build_args`, :func:`dbt_environment`). A delta build is chosen only when all of these hold;
otherwise the build is full, with the reason recorded:

- an earlier build succeeded, for the same ``as_of``, with the same fingerprint (every
  dbt model, macro, test and seed file, the dbt version, the scoring model version);
- the latest build attempt was not a full build that failed (a failed delta build is
  simply repeated as a delta: each model replaces the same subjects' rows again);
- code governance keeps its change log, has resolved every current record (one reference
  per current record of each category with subject fields), made no full resolution since
  (``all_changed``) and has not pruned a generation the build needs;
- the changed subjects are at most ``evaluation.delta.max_changed_share`` of all subjects
  (``catalogs/evaluation.yaml``): beyond it a full build is cheaper.

The library knows nothing of Dagster (``pipelines/defs/transform.py`` wires it)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Any

import duckdb

from ..catalogue import Catalogue, CatalogueError
from ..codes.resolve import KEEP_GENERATIONS
from . import DBT_PROJECT_DIR, dbt_input_files

BUILDS = "audit.dbt_builds"
BUILDS_DDL = f"""
CREATE TABLE IF NOT EXISTS {BUILDS} (
    build_id BIGINT,
    as_of DATE,
    mode VARCHAR,               -- full | delta
    reason VARCHAR,             -- why this mode
    fingerprint VARCHAR,        -- dbt project, seeds, dbt version, vars
    codes_generation BIGINT,    -- the code-governance generation this build includes
    since_generation BIGINT,    -- delta: the subjects changed after this generation
    changed_subjects BIGINT,    -- delta: how many subjects were recomputed
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    status VARCHAR              -- running | success | failed
)"""


# Environment variables read by the dbt project's macros (dbt_project/macros/as_of.sql, delta.sql).
AS_OF_ENV = "CREDIT_DBT_AS_OF"
SINCE_GENERATION_ENV = "CREDIT_DBT_SINCE_GENERATION"
DELTA_ENV = "CREDIT_DBT_DELTA"


@dataclass(frozen=True)
class BuildPlan:
    mode: str                      # "full" | "delta"
    reason: str
    as_of: str
    fingerprint: str
    codes_generation: int | None = None
    since_generation: int | None = None
    changed_subjects: int | None = None

    @property
    def is_delta(self) -> bool:
        return self.mode == "delta"

    def dbt_env(self) -> dict[str, str]:
        """The environment of the dbt invocation for this plan — the pipeline passes dbt no
        ``--vars``: a change of them makes dbt parse the whole project again, a changed
        environment variable only the files that read it. Full or delta, the
        evaluation date and the code-governance generation a delta build starts after
        (macros ``delta_requested``, ``as_of_str`` and ``since_generation``; a ``--vars``
        value of the same name takes precedence). Always all three: a full build says
        ``false`` rather than inherit a value from the caller's environment."""
        return {DELTA_ENV: "true" if self.is_delta else "false", AS_OF_ENV: self.as_of,
                SINCE_GENERATION_ENV: str(int(self.since_generation or 0))}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_fingerprint(model_version: str | None = None) -> str:
    """What a build's result depends on besides the data and as_of: every file of the dbt
    project and its seeds (names and bytes), the dbt-core and dbt-duckdb versions and the
    scoring model version asked for."""
    h = hashlib.sha256()
    for f in dbt_input_files():
        h.update(str(f.relative_to(DBT_PROJECT_DIR.parent)).encode())
        h.update(b"\0")
        h.update(f.read_bytes())
        h.update(b"\0")
    for dist in ("dbt-core", "dbt-duckdb", "duckdb"):
        try:
            h.update(f"{dist}={metadata.version(dist)}\n".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{dist}=?\n".encode())
    h.update(f"model_version={model_version or ''}\n".encode())
    return h.hexdigest()[:32]


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, table]).fetchall()[0][0])


def ensure_builds_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS audit")
    con.execute(BUILDS_DDL)


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> dict[str, Any] | None:
    cur = con.execute(sql, params or [])
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def _codes_state(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The latest code-governance run (None when it keeps no change log)."""
    if not (_table_exists(con, "codes", "resolution_state") and _table_exists(con, "codes", "subject_changes")):
        return None
    return _one(con, "SELECT generation, resolved_at FROM codes.resolution_state "
                     "ORDER BY generation DESC LIMIT 1")


def _unresolved_categories(con: duckdb.DuckDBPyConnection, categories: Iterable[str]) -> list[str]:
    """The categories whose current records are not all in codes.subject_refs (code
    governance keeps exactly one reference per current record of a category with subject
    fields): ingestion ran after it, e.g. a run selecting only ingestion and the evaluation.
    Two counts per category, no join."""
    refs = dict(con.execute("SELECT category, count(*) FROM codes.subject_refs GROUP BY 1").fetchall())
    behind = []
    for cat in categories:
        if not _table_exists(con, "raw", cat):
            continue
        current = con.execute(f'SELECT count(*) FROM raw."{cat}" WHERE is_current').fetchall()[0][0]
        if current != refs.get(cat, 0):
            behind.append(cat)
    return behind


def plan_build(con: duckdb.DuckDBPyConnection, as_of: str, fingerprint: str,
               max_changed_share: float, allow_delta: bool = True,
               ref_categories: Iterable[str] = ()) -> BuildPlan:
    """Full or delta for a build as of ``as_of`` (see the module docstring).
    ``ref_categories``: the categories with subject fields (code governance resolves them)."""
    ensure_builds_table(con)
    codes = _codes_state(con)
    generation = int(codes["generation"]) if codes else None

    def full(reason: str) -> BuildPlan:
        return BuildPlan("full", reason, as_of, fingerprint, codes_generation=generation)

    if not allow_delta:
        return full("delta builds are switched off (evaluation.delta.enabled)")
    last = _one(con, f"SELECT * FROM {BUILDS} WHERE status = 'success' ORDER BY build_id DESC LIMIT 1")
    if last is None:
        return full("no earlier successful build")
    latest = _one(con, f"SELECT * FROM {BUILDS} ORDER BY build_id DESC LIMIT 1")
    if latest and latest["status"] != "success" and latest["mode"] == "full":
        return full(f"the last full build (#{latest['build_id']}) did not finish")
    if str(last["as_of"]) != as_of:
        return full(f"evaluation date changed ({last['as_of']} → {as_of})")
    if last["fingerprint"] != fingerprint:
        return full("the dbt project, its seeds or dbt changed since the last build")
    if codes is None or last["codes_generation"] is None:
        return full("no code-governance change log to follow")
    behind = _unresolved_categories(con, ref_categories)
    if behind:
        return full("records not yet resolved by code governance: " + ", ".join(behind))
    since = int(last["codes_generation"])
    if since > generation:
        return full("the code-governance log is older than the last build (rebuilt warehouse?)")
    if generation - since >= KEEP_GENERATIONS:
        return full(f"{generation - since} code-governance runs since the last build: "
                    "older changes are pruned from the log")
    rerun = con.execute(
        "SELECT count(*) FROM codes.resolution_state WHERE generation > ? AND all_changed", [since]
    ).fetchall()[0][0]
    if rerun:
        return full("code governance made a full resolution since the last build")
    changed = int(con.execute(
        "SELECT count(DISTINCT coalesce(subject_id, '')) FROM codes.subject_changes WHERE generation > ?",
        [since]).fetchall()[0][0])
    subjects = int(con.execute("SELECT count(*) FROM codes.subjects").fetchall()[0][0]) \
        if _table_exists(con, "codes", "subjects") else 0
    if changed > max_changed_share * max(subjects, 1):
        return full(f"{changed} of {subjects} subjects changed: more than {max_changed_share:.0%}, "
                    "a full build is cheaper")
    return BuildPlan("delta", f"{changed} changed subject(s) since code-governance generation {since}",
                     as_of, fingerprint, codes_generation=generation, since_generation=since,
                     changed_subjects=changed)


def record_start(con: duckdb.DuckDBPyConnection, plan: BuildPlan) -> int:
    """Record a build as running; returns its id."""
    ensure_builds_table(con)
    build_id = int(con.execute(f"SELECT coalesce(max(build_id), 0) + 1 FROM {BUILDS}").fetchall()[0][0])
    con.execute(
        f"INSERT INTO {BUILDS} VALUES (?, CAST(? AS DATE), ?, ?, ?, ?, ?, ?, ?, NULL, 'running')",
        [build_id, plan.as_of, plan.mode, plan.reason, plan.fingerprint, plan.codes_generation,
         plan.since_generation, plan.changed_subjects, dt.datetime.now()])
    return build_id


def record_end(con: duckdb.DuckDBPyConnection, build_id: int, success: bool) -> None:
    con.execute(f"UPDATE {BUILDS} SET status = ?, finished_at = ? WHERE build_id = ?",
                ["success" if success else "failed", dt.datetime.now(), build_id])


def settings(catalogue: Catalogue) -> tuple[bool, float]:
    """``evaluation.delta`` of ``catalogs/evaluation.yaml``: (enabled, max_changed_share)."""
    try:
        cfg = catalogue.setting("evaluation.delta")
        return bool(cfg["enabled"]), float(cfg["max_changed_share"])
    except (KeyError, TypeError, ValueError) as e:
        raise CatalogueError("catalogs/evaluation.yaml: evaluation.delta needs enabled (true/false) "
                             f"and max_changed_share (a share of all subjects): {e!r}") from e


@contextmanager
def dbt_environment(plan: BuildPlan) -> Iterator[None]:
    """Set :meth:`BuildPlan.dbt_env` in ``os.environ`` for a dbt invocation (a subprocess
    inherits it; ``dbtRunner`` reads it), and restore what was there."""
    env = plan.dbt_env()
    previous = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in previous.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def seed_only_tests(manifest: Mapping[str, Any]) -> list[str]:
    """The names of the data tests whose every parent is a seed (the parameters' own
    tests: unique grades, accepted values, …), from dbt's ``manifest`` (as JSON)."""
    nodes = manifest.get("nodes", {})
    return sorted(
        n["name"] for n in nodes.values()
        if n.get("resource_type") == "test" and (parents := n.get("depends_on", {}).get("nodes"))
        and all(p.startswith("seed.") for p in parents)
    )


def untested_views(manifest: Mapping[str, Any]) -> list[str]:
    """The names of the models materialized as views that no data test reads (the staging
    views), from dbt's ``manifest`` (as JSON). A view is its SQL: the build with the same
    fingerprint created it as it is, and the raw rows it shows are live."""
    nodes = manifest.get("nodes", {})
    tested = {p for n in nodes.values() if n.get("resource_type") == "test"
              for p in n.get("depends_on", {}).get("nodes", [])}
    return sorted(
        n["name"] for uid, n in nodes.items()
        if n.get("resource_type") == "model" and n.get("config", {}).get("materialized") == "view"
        and uid not in tested
    )


def dbt_build_args(plan: BuildPlan, manifest: Mapping[str, Any] | None = None) -> list[str]:
    """``dbt build`` arguments for the plan. A delta build skips the unit tests (they test
    the models' logic on fixed inputs, not the data), the seeds (the parameters in
    catalogs/) and, given the ``manifest``, the data tests of the seeds alone
    (:func:`seed_only_tests`) and the views no test reads (:func:`untested_views`: creating
    them again changes nothing): all ran in the full build with the same fingerprint, and
    every change of code or seed makes the next build full. The tests that join a model
    to a seed (relationships) read the data and run, as do the views they read
    (``credit_records``). Nor does a delta build write dbt's JSON artifacts (manifest,
    run results, graph: ``--no-write-json``, about 0.4 s at 1M subjects): the run's
    events and the invocation's ``dbt.log`` hold every node's result, and dagster-dbt
    reads none of them; a full build writes them as ever."""
    args = ["build"]
    if plan.is_delta:
        args += ["--no-write-json", "--exclude-resource-type", "unit_test", "--exclude-resource-type", "seed"]
        if manifest is not None and (skip := [*seed_only_tests(manifest), *untested_views(manifest)]):
            args += ["--exclude", " ".join(skip)]  # one value: dagster-dbt re-parses --exclude
    return args
