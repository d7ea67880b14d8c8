"""The transform stage's Dagster definitions: keys line up with the other stages."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg


def test_dbt_assets_keys_deps_checks_and_pool():
    from pipelines.defs.transform import credit_dbt_assets, defs, resolve_as_of

    keys = {k.to_user_string() for k in credit_dbt_assets.keys}
    assert {"marts/subjects", "marts/credit_records", "marts/score_components", "marts/credit_grades"} <= keys
    deps = {k.to_user_string() for k in credit_dbt_assets.dependency_keys}
    assert {"raw/admin_penalty", "raw/registration", "codes/subjects", "codes/subject_refs"} <= deps
    checks = {c.asset_key.to_user_string() for c in credit_dbt_assets.check_specs}
    assert "marts/credit_grades" in checks
    assert credit_dbt_assets.op.pool == "duckdb_writer"
    assert isinstance(defs, dg.Definitions)
    assert resolve_as_of("2026-05-01", {"credit/as_of": "2020-01-01"}) == "2026-05-01"
    assert resolve_as_of(None, {"credit/as_of": "2020-01-01"}) == "2020-01-01"


def test_old_invocation_targets_are_pruned(tmp_path):
    """dagster-dbt writes a target folder per dbt invocation: all but the newest ten (and
    any changed within the hour) are removed after each build; other files stay."""
    import os
    import time

    from pipelines.defs.transform import prune_invocation_targets

    now = time.time()
    for i in range(14):
        d = tmp_path / f"credit_dbt-{i:03d}"
        (d / "compiled").mkdir(parents=True)
        (d / "manifest.json").write_text("{}")
        age = 7200 + (14 - i) * 60 if i < 12 else 60  # the last two: recent
        os.utime(d, (now - age, now - age))
    (tmp_path / "partial_parse.msgpack").write_bytes(b"x")
    (tmp_path / "other").mkdir()
    removed = prune_invocation_targets(tmp_path, keep=10)
    assert sorted(p.name for p in removed) == ["credit_dbt-000", "credit_dbt-001", "credit_dbt-002",
                                               "credit_dbt-003"]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [f"credit_dbt-{i:03d}" for i in range(4, 14)] + ["other", "partial_parse.msgpack"]
    # folders changed within the hour are kept even beyond the newest ``keep``
    os.utime(tmp_path / "credit_dbt-004", (now - 10, now - 10))
    for i in range(20, 25):
        (tmp_path / f"credit_dbt-{i:03d}").mkdir()
    removed = prune_invocation_targets(tmp_path, keep=2)
    assert sorted(p.name for p in removed) == [f"credit_dbt-{i:03d}" for i in range(5, 12)]
    assert sorted(p.name for p in tmp_path.glob("credit_dbt-*")) == \
        ["credit_dbt-004", "credit_dbt-012", "credit_dbt-013"] + [f"credit_dbt-{i:03d}" for i in range(20, 25)]


def test_dbt_commands_do_not_call_home_or_open_an_adapter(tmp_path, monkeypatch):
    """dagster-dbt runs `dbt --version` before every dbt command (and that asks pypi.org
    for the latest release) and opens a dbt adapter in the step's process: the project's
    resource does neither, and its dbt commands still run."""
    from importlib.metadata import version

    import dagster_dbt.core.resource as dbt_resource
    from dagster_dbt import DbtCliResource

    from pipelines.defs.transform import CreditDbtCliResource, credit_dbt_project, defs

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"subprocess {args!r} started to learn dbt's version")

    def no_adapter(self, args):
        raise AssertionError("dbt adapter opened in the step's process")

    monkeypatch.setattr(dbt_resource, "check_output", no_subprocess)
    monkeypatch.setattr(DbtCliResource, "_initialize_dbt_core_adapter", no_adapter)
    monkeypatch.setenv("CREDIT_DATA_DIR", str(tmp_path))
    assert isinstance(defs.resources["dbt"], CreditDbtCliResource)

    dbt = CreditDbtCliResource(project_dir=credit_dbt_project)
    assert str(dbt._cli_version) == version("dbt-core")
    invocation = dbt.cli(["parse", "--quiet"], target_path=tmp_path / "target").wait()
    assert invocation.is_successful() and invocation.adapter is None
    assert (tmp_path / "target" / "manifest.json").is_file()


def test_a_builds_parse_state_is_kept_for_the_next(tmp_path):
    from types import SimpleNamespace

    from pipelines.defs.transform import (
        CreditDbtCliResource,
        credit_dbt_project,
        invocation_target,
        keep_partial_parse,
    )

    run, state = tmp_path / "credit_dbt-abc", tmp_path / "warehouse" / "dbt_state"
    run.mkdir()
    assert not keep_partial_parse(run, state)  # nothing to keep
    (run / "partial_parse.msgpack").write_bytes(b"state of the build")
    assert keep_partial_parse(run, state)
    (run / "partial_parse.msgpack").write_bytes(b"state of a later build")
    assert keep_partial_parse(run, state)
    assert (state / "partial_parse.msgpack").read_bytes() == b"state of a later build"
    assert sorted(p.name for p in state.iterdir()) == ["partial_parse.msgpack"]

    # the next invocation of this warehouse starts from it
    context = SimpleNamespace(op_execution_context=SimpleNamespace(op=SimpleNamespace(name="credit_dbt")),
                              run=SimpleNamespace(run_id="0123456789abcdef"))
    dbt = CreditDbtCliResource(project_dir=credit_dbt_project)
    target = invocation_target(dbt, context, state)
    try:
        assert target.parent == credit_dbt_project.project_dir / credit_dbt_project.target_path
        assert target.name.startswith("credit_dbt-0123456-")
        assert (target / "partial_parse.msgpack").read_bytes() == b"state of a later build"
        assert not invocation_target(dbt, context, tmp_path / "none").exists()  # nothing kept yet
    finally:
        import shutil

        shutil.rmtree(target, ignore_errors=True)


def test_a_full_build_prepares_the_parse_state_of_the_delta_build_after_it(tmp_path, monkeypatch):
    """Beside a full build, ``dbt parse`` runs with the environment the next delta build
    will have (delta, since the generation the full build included); its state replaces
    the build's when both succeed, and is dropped when either failed."""
    import os
    from types import SimpleNamespace

    from pipelines.defs import transform
    from pipelines.warehouse.delta import BuildPlan

    full = BuildPlan("full", "x", "2026-11-20", "fp", codes_generation=7)
    nxt = transform.next_delta_plan(full)
    assert nxt is not None and nxt.is_delta
    assert nxt.dbt_env() == {"CREDIT_DBT_DELTA": "true", "CREDIT_DBT_AS_OF": "2026-11-20",
                             "CREDIT_DBT_SINCE_GENERATION": "7"}
    assert transform.next_delta_plan(nxt) is None  # after a delta build: its own state fits
    assert transform.next_delta_plan(BuildPlan("full", "x", "2026-11-20", "fp")) is None

    state = tmp_path / "dbt_state"
    state.mkdir()
    (state / "partial_parse.msgpack").write_bytes(b"kept by the last build")
    seen: dict = {}

    class FakeInvocation:
        def __init__(self, target, ok):
            self.target, self.ok, self.process = target, ok, None

        def wait(self):
            (self.target / "partial_parse.msgpack").write_bytes(b"parsed for the delta build")
            return self

        def is_successful(self):
            return self.ok

    def fake_cli(args, raise_on_error, target_path):
        seen.update(args=args, env={k: os.environ.get(k) for k in nxt.dbt_env()},
                    start=(target_path / "partial_parse.msgpack").read_bytes())
        return FakeInvocation(target_path, seen.get("parse_ok", True))

    dbt = SimpleNamespace(cli=fake_cli)
    started = transform.start_delta_parse(dbt, full, state)
    assert seen["args"] == ["parse"] and seen["env"] == nxt.dbt_env()
    assert seen["start"] == b"kept by the last build"  # dbt parses from the kept state
    target = started[1]
    assert target.name.startswith("credit_dbt-parse-")
    assert transform.finish_delta_parse(started, True, state)
    assert (state / "partial_parse.msgpack").read_bytes() == b"parsed for the delta build"
    assert not target.exists()  # a successful parse's folder is removed

    # the build failed: the state stays the build's (here: the one kept before)
    (state / "partial_parse.msgpack").write_bytes(b"kept by the last build")
    started = transform.start_delta_parse(dbt, full, state)
    assert not transform.finish_delta_parse(started, False, state)
    assert (state / "partial_parse.msgpack").read_bytes() == b"kept by the last build"
    # the parse failed: likewise, and its folder (with its dbt.log) stays
    seen["parse_ok"] = False
    started = transform.start_delta_parse(dbt, full, state)
    assert not transform.finish_delta_parse(started, True, state)
    assert (state / "partial_parse.msgpack").read_bytes() == b"kept by the last build"
    assert started[1].exists()
    import shutil

    shutil.rmtree(started[1], ignore_errors=True)
    assert transform.start_delta_parse(dbt, transform.next_delta_plan(full), state) is None


def test_credit_dbt_ends_as_dbt_does(tmp_path):
    """``credit-dbt`` (dbt's command line whose process skips the heap's teardown, what the
    resource runs): dbt's exit status and output, and the exit handlers run — the DuckDB
    connection closed, its write-ahead log checkpointed into the warehouse file."""
    import subprocess

    import duckdb

    from pipelines.defs.transform import CreditDbtCliResource, credit_dbt_project
    from pipelines.settings import PROJECT_ROOT
    from pipelines.warehouse.dbt_main import dbt_command, exit_status

    exe = Path(dbt_command())
    assert exe.name == "credit-dbt"
    assert CreditDbtCliResource(project_dir=credit_dbt_project).dbt_executable == str(exe)
    project = str(PROJECT_ROOT / "dbt_project")
    env = {**os.environ, "CREDIT_DATA_DIR": str(tmp_path), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    (tmp_path / "warehouse").mkdir()
    common = ["--project-dir", project, "--profiles-dir", project, "--target-path", str(tmp_path / "target"),
              "--log-path", str(tmp_path / "logs")]

    def dbt(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(exe), *args, *common], env=env, capture_output=True, text=True, timeout=300)

    seeded = dbt("seed", "--select", "score_models")
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    assert "Completed successfully" in seeded.stdout
    db = tmp_path / "warehouse" / "credit.duckdb"
    assert not db.with_name("credit.duckdb.wal").exists()  # checkpointed when the process ended
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("select count(*) from config.score_models").fetchone()[0] >= 1
    finally:
        con.close()
    failed = dbt("run-operation", "no_such_macro")
    assert failed.returncode == 2 and "no_such_macro" in failed.stdout
    assert [exit_status(c) for c in (None, 0, 1, 2)] == [0, 0, 1, 2]
    assert exit_status("a message") == 1
