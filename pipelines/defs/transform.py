"""Stage `transform`: the dbt project (staging → intermediate → marts) as Dagster assets.

* Asset keys: dbt sources ``raw.<category>`` → ``["raw", <category>]`` (produced by
  ingest), ``codes.*`` → ``["codes", <table>]`` (codes stage), ``audit.*`` →
  ``["audit", <table>]``; models and seeds → ``[<schema>, <name>]``, e.g.
  ``["marts", "credit_grades"]``, ``["config", "score_indicators"]``.
* dbt data tests and unit tests are asset checks (dagster-dbt default).
* The evaluation date: run config ``as_of``, else the run tag ``credit/as_of`` (set by
  ``credit run --as-of``), else ``$CREDIT_AS_OF``, else today; handed to dbt as
  ``CREDIT_DBT_AS_OF`` (``pipelines.warehouse.delta.dbt_environment``).
* Full or delta: a re-run for the same evaluation date recomputes only the subjects that
  changed since the last successful build (``pipelines.warehouse.delta``, recorded in
  ``audit.dbt_builds``); run config ``full_build: true`` forces a full build.
* The manifest is produced by ``dbt parse`` when this module loads and it is missing or
  older than the project's models / macros / seeds (always refreshed under ``dagster dev``).
"""


import dataclasses
import datetime as dt
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from dagster_dbt.dbt_project import DagsterDbtProjectPreparer
from packaging.version import Version

from pipelines.catalogue import load_catalogue
from pipelines.settings import Paths
from pipelines.warehouse import DBT_PROJECT_DIR, dbt_input_files, delta
from pipelines.warehouse.dbt_main import dbt_command
from pipelines.warehouse.delta import BuildPlan

from .resources import WarehouseResource, vacuum_in

AS_OF_ENV = "CREDIT_AS_OF"
AS_OF_TAG = "credit/as_of"
WAREHOUSE_POOL = "duckdb_writer"
# Sources produced by other stages keep their own keys.
UPSTREAM_SOURCES = ("raw", "codes", "audit")

# dagster-dbt gives every dbt invocation its own folder under target/ (manifest, run
# results, compiled SQL: about 7 MB); the latest ones are kept for debugging.
KEEP_INVOCATION_TARGETS = 10

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")


def prune_invocation_targets(target_dir: Path, keep: int = KEEP_INVOCATION_TARGETS,
                             prefix: str = "credit_dbt-", min_age_seconds: float = 3600) -> list[Path]:
    """Remove the per-invocation folders ``<prefix>*`` under ``target_dir`` but the ``keep``
    newest and those changed in the last ``min_age_seconds`` (an invocation still running
    elsewhere); a daily run would otherwise add 2.5 GB a year. Returns the removed."""
    runs = sorted((p for p in target_dir.glob(f"{prefix}*") if p.is_dir()),
                  key=lambda p: p.stat().st_mtime, reverse=True)
    cutoff = time.time() - min_age_seconds
    old = [p for p in runs[keep:] if p.stat().st_mtime < cutoff]
    for p in old:
        shutil.rmtree(p, ignore_errors=True)
    return old


PARSE_STATE = "partial_parse.msgpack"


def keep_partial_parse(invocation_target: Path, state_dir: Path) -> bool:
    """Keep a successful build's parse state for the next build against the same
    warehouse (``Paths.dbt_state``). Without it dagster-dbt starts every dbt invocation
    from ``target/partial_parse.msgpack``, which ``dbt parse`` wrote when the definitions
    loaded — no vars, the environment of that moment — and dbt parsed the whole project on
    every build ("Unable to do partial parsing because config vars, config profile, or
    config target have changed"). The last build's state has the next one's vars and
    profile, so dbt re-parses only the files whose inputs changed; dbt checks that itself,
    so a state that does not fit costs one full parse, never a wrong result. One state per
    warehouse (the profile names the warehouse file), replaced atomically."""
    state = invocation_target / PARSE_STATE
    if not state.is_file():
        return False
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / f".{PARSE_STATE}.{os.getpid()}.tmp"
    try:
        shutil.copyfile(state, tmp)
        os.replace(tmp, state_dir / PARSE_STATE)
    except OSError:
        tmp.unlink(missing_ok=True)
        return False
    return True


def next_delta_plan(plan: BuildPlan) -> BuildPlan | None:
    """The plan of the delta build that would follow ``plan`` (a successful full build)
    on the same day and project: delta, since the code-governance generation this build
    included. None when the build carried no generation (nothing could follow it as a
    delta)."""
    if plan.is_delta or plan.codes_generation is None:
        return None
    return dataclasses.replace(plan, mode="delta", reason="the next delta build",
                               since_generation=plan.codes_generation, changed_subjects=None)


def start_delta_parse(dbt: DbtCliResource, plan: BuildPlan, state_dir: Path) -> tuple[Any, Path] | None:
    """Beside a full build, prepare the parse state the next delta build needs.

    The kept state (:func:`keep_partial_parse`) has the environment of the build that
    wrote it, and a delta build differs from a full one in ``CREDIT_DBT_DELTA`` and the
    generation it starts after, which the delta models read while they are parsed: the
    first landing after a full run had dbt re-parse 14 files (about 1.2 s,
    docs/performance.md). So while the full build runs, ``dbt parse`` runs in a process of
    its own with :func:`next_delta_plan`'s environment, from the kept state, in a target
    folder of its own; :func:`finish_delta_parse` keeps its state when both succeed. dbt
    parse opens no warehouse connection. Returns (invocation, target), or None when no
    delta build can follow."""
    nxt = next_delta_plan(plan)
    if nxt is None:
        return None
    target = (Path(credit_dbt_project.project_dir) / credit_dbt_project.target_path
              / f"credit_dbt-parse-{uuid.uuid4().hex[:7]}")  # pruned with the builds' folders
    target.mkdir(parents=True, exist_ok=True)
    _seed_parse_state(target, state_dir)
    with delta.dbt_environment(nxt):  # the environment is the subprocess's from its start
        return dbt.cli(["parse"], raise_on_error=False, target_path=target), target


def finish_delta_parse(started: tuple[Any, Path] | None, build_ok: bool, state_dir: Path) -> bool:
    """Wait for :func:`start_delta_parse`'s dbt parse; keep its state when it and the
    build succeeded (the build's own stays otherwise: dbt checks a state's fit itself, so
    one that does not fit the next build costs a parse, never a wrong result)."""
    if started is None:
        return False
    invocation, target = started
    try:
        invocation.wait()
    except Exception:  # a failed parse leaves the build's own state; the build is not affected
        return False
    kept = build_ok and invocation.is_successful() and keep_partial_parse(target, state_dir)
    if invocation.is_successful():
        shutil.rmtree(target, ignore_errors=True)  # a failed one keeps its dbt.log
    return kept


def invocation_target(dbt: DbtCliResource, context: dg.AssetExecutionContext, state_dir: Path) -> Path:
    """The dbt invocation's own target folder — the one dagster-dbt would choose
    (``_get_unique_target_path``) — seeded with the warehouse's kept parse state when there
    is one (dagster-dbt then leaves it be)."""
    target = Path(credit_dbt_project.project_dir) / dbt._get_unique_target_path(context=context)
    _seed_parse_state(target, state_dir)
    return target


def _seed_parse_state(target: Path, state_dir: Path) -> None:
    """Copy the warehouse's kept parse state, if there is one, into dbt's ``target``."""
    if (state_dir / PARSE_STATE).is_file():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(state_dir / PARSE_STATE, target / PARSE_STATE)


def _newest_input_mtime() -> float:
    return max((f.stat().st_mtime for f in dbt_input_files()), default=0.0)


def manifest_is_stale(project: DbtProject) -> bool:
    path = project.manifest_path
    return not path.exists() or path.stat().st_mtime < _newest_input_mtime()


class CreditDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt CLI resource without two things it does before every dbt command:

    * it runs ``dbt --version`` to learn which dbt it drives, and that command asks
      pypi.org for the latest release (``dbt.version.get_latest_version``) — a call home
      from the office's network on every run, and a wait where the network is closed. The
      version is read from the installed package instead.
    * it imports dbt and opens an adapter in the step's own process (profile, project and
      every macro loaded), which it needs only for ``fetch_row_counts`` /
      ``fetch_column_metadata``; this project uses neither. ``dbt build`` itself runs as
      before, in its own process.

    Both cost 5–12 s a run on 2 cores (docs/performance.md). And it runs dbt as
    ``credit-dbt`` (:mod:`pipelines.warehouse.dbt_main`: dbt's command line, whose process
    ends without tearing its Python heap down) where that is installed."""

    def __init__(self, project_dir: Any, dbt_executable: str | None = None, **kwargs: Any):
        super().__init__(project_dir, dbt_executable=dbt_executable or dbt_command(), **kwargs)

    @cached_property
    def _cli_version(self) -> Version:
        return Version(installed_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None


class CreditDbtProjectPreparer(DagsterDbtProjectPreparer):
    """dagster-dbt's preparer (``dbt parse`` into target/, guarded against concurrent
    parses), its dbt command run through :class:`CreditDbtCliResource`."""

    def _prepare_manifest(self, project: DbtProject) -> None:
        (CreditDbtCliResource(project_dir=project)
         .cli(self._prepare_project_cli_args, target_path=project.target_path)
         .wait())
        self._invalidate_seeds_in_partial_parse(project)


def parse_dbt_project(project: DbtProject) -> None:
    """``dbt parse``: manifest.json and partial_parse.msgpack under the project's target/."""
    CreditDbtProjectPreparer().prepare(project)


credit_dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
if os.environ.get("DAGSTER_IS_DEV_CLI") or manifest_is_stale(credit_dbt_project):
    # Under `dagster dev` always; otherwise when there is no manifest, or models / macros /
    # seeds changed since it was written: `dbt parse` now.
    parse_dbt_project(credit_dbt_project)


class CreditDbtTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        rtype = dbt_resource_props["resource_type"]
        if rtype == "source" and dbt_resource_props["source_name"] in UPSTREAM_SOURCES:
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        if rtype in ("model", "seed", "snapshot"):
            schema = dbt_resource_props.get("schema") or "main"
            return dg.AssetKey([schema, dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "transform"


class TransformConfig(dg.Config):
    as_of: str | None = None
    """Evaluation date YYYY-MM-DD (default: tag credit/as_of, $CREDIT_AS_OF, today)."""
    full_build: bool = False
    """Rebuild every model from all records even when a delta build would do."""


def resolve_as_of(config_as_of: str | None = None, tags: Mapping[str, str] | None = None) -> str:
    for candidate in (config_as_of, (tags or {}).get(AS_OF_TAG), os.environ.get(AS_OF_ENV)):
        if candidate:
            return dt.date.fromisoformat(str(candidate).strip()).isoformat()
    return dt.date.today().isoformat()


@contextmanager
def _absolute_data_dir() -> Iterator[None]:
    """dbt resolves a relative path from dbt_project/: hand it an absolute CREDIT_DATA_DIR."""
    previous = os.environ.get("CREDIT_DATA_DIR")
    paths = Paths.from_env().ensure()
    os.environ["CREDIT_DATA_DIR"] = str(paths.data_dir)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("CREDIT_DATA_DIR", None)
        else:
            os.environ["CREDIT_DATA_DIR"] = previous


def plan_evaluation(warehouse: WarehouseResource, as_of: str, *, full: bool = False,
                    vacuum: bool = True) -> tuple[BuildPlan, int, bool]:
    """Decide full or delta (pipelines.warehouse.delta) and record the build as running
    (``vacuum``: see ``resources.vacuum_in``). Returns the plan, the build id and whether
    delta builds are switched on (``evaluation.delta.enabled``)."""
    catalogue = load_catalogue()
    enabled, max_share = delta.settings(catalogue)
    refs = [c.id for c in catalogue.categories.values() if c.has_subject and c.subject_ref_fields]
    with warehouse.connect(read_only=False, vacuum=vacuum) as con:
        plan = delta.plan_build(con, as_of, delta.build_fingerprint(), max_share,
                                allow_delta=enabled and not full, ref_categories=refs)
        if full and enabled:
            plan = dataclasses.replace(plan, reason="full build asked for (run config full_build)")
        return plan, delta.record_start(con, plan), enabled


def _manifest() -> dict:
    return json.loads(Path(credit_dbt_project.manifest_path).read_text(encoding="utf-8"))


@dbt_assets(
    manifest=credit_dbt_project.manifest_path,
    project=credit_dbt_project,
    dagster_dbt_translator=CreditDbtTranslator(),
    name="credit_dbt",
    pool=WAREHOUSE_POOL,
)
def credit_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: TransformConfig,
                      warehouse: WarehouseResource):
    as_of = resolve_as_of(config.as_of, context.run.tags if context.run else None)
    vacuum = vacuum_in(context)
    plan, build_id, delta_enabled = plan_evaluation(warehouse, as_of, full=config.full_build, vacuum=vacuum)
    context.log.info(f"dbt build as of {as_of}: {plan.mode} ({plan.reason})")
    ok = False
    try:
        state_dir = warehouse.paths.dbt_state
        parse = None
        try:
            with _absolute_data_dir():
                if delta_enabled and not plan.is_delta:
                    parse = start_delta_parse(dbt, plan, state_dir)
                with delta.dbt_environment(plan):
                    invocation = dbt.cli(delta.dbt_build_args(plan, _manifest()), context=context,
                                         raise_on_error=False, target_path=invocation_target(dbt, context, state_dir))
                    yield from invocation.stream()
                    ok = invocation.is_successful()
        except BaseException:
            if parse is not None:  # the run stops: so does the parse beside it
                parse[0].process.kill()
            raise
        if ok:
            keep_partial_parse(invocation.target_path, state_dir)
        finish_delta_parse(parse, ok, state_dir)
    finally:
        with warehouse.connect(read_only=False, vacuum=vacuum) as con:
            delta.record_end(con, build_id, ok)
        prune_invocation_targets(Path(credit_dbt_project.project_dir) / credit_dbt_project.target_path)
    if not ok:
        raise dg.Failure(description=f"dbt build ({plan.mode}) failed: see the dbt log of this step",
                         metadata={"build_id": build_id, "mode": plan.mode})


defs = dg.Definitions(
    assets=[credit_dbt_assets],
    resources={"dbt": CreditDbtCliResource(project_dir=credit_dbt_project)},
)

__all__ = ["defs", "credit_dbt_assets", "credit_dbt_project", "CreditDbtCliResource", "CreditDbtTranslator",
           "invocation_target", "keep_partial_parse", "next_delta_plan", "start_delta_parse", "finish_delta_parse", "parse_dbt_project", "prune_invocation_targets", "resolve_as_of"]
