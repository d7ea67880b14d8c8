"""The choice between a full and a delta dbt build (pipelines.warehouse.delta.plan_build)
and where its threshold comes from, on a hand-made code-governance log."""

from __future__ import annotations

import dataclasses

import duckdb
import pytest
import yaml

from pipelines.catalogue import CatalogueError, load_catalogue
from pipelines.codes.resolve import KEEP_GENERATIONS
from pipelines.settings import catalog_dir
from pipelines.warehouse import delta

AS_OF = "2026-11-30"
FP = "fingerprint-1"


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("CREATE SCHEMA codes")
    c.execute("CREATE TABLE codes.resolution_state (generation BIGINT, resolved_at TIMESTAMP, all_changed BOOLEAN)")
    c.execute("CREATE TABLE codes.subject_changes (generation BIGINT, subject_id VARCHAR)")
    c.execute("CREATE TABLE codes.subject_refs (category VARCHAR)")
    c.execute("CREATE TABLE codes.subjects AS SELECT 'S' || i AS subject_id FROM range(10) t(i)")
    yield c
    c.close()


def resolution(con, generation: int, changed: list[str], *, full: bool = False) -> None:
    """A code-governance run: its state row and the subjects it logged as changed."""
    con.execute("INSERT INTO codes.resolution_state VALUES (?, now()::TIMESTAMP, ?)", [generation, full])
    for s in changed:
        con.execute("INSERT INTO codes.subject_changes VALUES (?, ?)", [generation, s])


def built(con, plan: delta.BuildPlan, success: bool = True) -> None:
    delta.record_end(con, delta.record_start(con, plan), success)


def plan(con, as_of: str = AS_OF, fingerprint: str = FP, share: float = 0.3, **kw) -> delta.BuildPlan:
    return delta.plan_build(con, as_of, fingerprint, share, **kw)


def test_first_build_is_full_then_changed_subjects_give_a_delta(con):
    resolution(con, 1, [f"S{i}" for i in range(10)], full=True)
    first = plan(con)
    assert (first.mode, first.reason) == ("full", "no earlier successful build")
    built(con, first)
    resolution(con, 2, ["S1", "S2", "S2"])
    p = plan(con)
    assert (p.mode, p.since_generation, p.codes_generation, p.changed_subjects) == ("delta", 1, 2, 2)
    # no --vars (a change of them re-parses the whole project): what changes from build to
    # build goes in the environment
    assert p.dbt_env() == {"CREDIT_DBT_DELTA": "true", "CREDIT_DBT_AS_OF": AS_OF, "CREDIT_DBT_SINCE_GENERATION": "1"}
    assert first.dbt_env()["CREDIT_DBT_DELTA"] == "false"
    assert delta.dbt_build_args(first) == ["build"]
    assert delta.dbt_build_args(p) == ["build", "--no-write-json", "--exclude-resource-type", "unit_test",
                                       "--exclude-resource-type", "seed"]
    assert "--vars" not in delta.dbt_build_args(first) + delta.dbt_build_args(p)
    # with the manifest, a delta build leaves out the tests of seeds alone, not those reading a model
    manifest = {"nodes": {
        "test.x.not_null_grades_grade.4": {"resource_type": "test", "name": "not_null_grades_grade",
                                           "depends_on": {"nodes": ["seed.x.grades"]}},
        "test.x.unique_grades_grade.1": {"resource_type": "test", "name": "unique_grades_grade",
                                         "depends_on": {"nodes": ["seed.x.grades"]}},
        "test.x.relationships_a_b.2": {"resource_type": "test", "name": "relationships_a_b",
                                       "depends_on": {"nodes": ["model.x.a", "seed.x.grades"]}},
        "test.x.singular.3": {"resource_type": "test", "name": "singular", "depends_on": {"nodes": []}},
        "seed.x.grades": {"resource_type": "seed", "name": "grades", "depends_on": {"nodes": []}},
        # a view no test reads is left out; one a test reads, and a table, are built
        "model.x.stg_a": {"resource_type": "model", "name": "stg_a", "config": {"materialized": "view"},
                          "depends_on": {"nodes": []}},
        "model.x.a": {"resource_type": "model", "name": "a", "config": {"materialized": "view"},
                      "depends_on": {"nodes": ["model.x.stg_a"]}},
        "model.x.t": {"resource_type": "model", "name": "t", "config": {"materialized": "table"},
                      "depends_on": {"nodes": []}},
    }}
    assert delta.seed_only_tests(manifest) == ["not_null_grades_grade", "unique_grades_grade"]
    assert delta.untested_views(manifest) == ["stg_a"]
    assert delta.dbt_build_args(p, manifest)[-2:] == ["--exclude", "not_null_grades_grade unique_grades_grade stg_a"]
    assert delta.dbt_build_args(first, manifest) == ["build"]


def test_dbt_environment_is_set_for_the_invocation_and_restored(con, monkeypatch):
    import os

    monkeypatch.setenv("CREDIT_DBT_AS_OF", "2020-01-01")
    monkeypatch.delenv("CREDIT_DBT_SINCE_GENERATION", raising=False)
    monkeypatch.setenv("CREDIT_DBT_DELTA", "true")
    resolution(con, 1, ["S1"], full=True)
    p = plan(con)
    with delta.dbt_environment(p):
        assert os.environ["CREDIT_DBT_AS_OF"] == AS_OF and os.environ["CREDIT_DBT_SINCE_GENERATION"] == "0"
        assert os.environ["CREDIT_DBT_DELTA"] == "false"
    assert os.environ["CREDIT_DBT_AS_OF"] == "2020-01-01" and "CREDIT_DBT_SINCE_GENERATION" not in os.environ
    assert os.environ["CREDIT_DBT_DELTA"] == "true"


@pytest.mark.parametrize(("changed", "share", "mode"), [
    (3, 0.3, "delta"),   # 3 of 10 is not more than 30 %
    (4, 0.3, "full"),
    (4, 0.5, "delta"),   # the threshold is the caller's (the configuration's)
    (1, 0.0, "full"),
])
def test_above_the_configured_share_of_subjects_the_build_is_full(con, changed, share, mode):
    resolution(con, 1, [], full=True)
    built(con, plan(con))
    resolution(con, 2, [f"S{i}" for i in range(changed)])
    p = plan(con, share=share)
    assert p.mode == mode
    if mode == "full":
        assert f"{changed} of 10 subjects changed" in p.reason


@pytest.mark.parametrize(("case", "reason"), [
    ("as_of", "evaluation date changed"),
    ("fingerprint", "the dbt project, its seeds or dbt changed"),
    ("switched_off", "delta builds are switched off"),
    ("full_resolution", "code governance made a full resolution"),
    ("log_pruned", "older changes are pruned from the log"),
    ("last_full_failed", "did not finish"),
])
def test_what_forces_a_full_build(con, case, reason):
    resolution(con, 1, [], full=True)
    first = plan(con)
    built(con, first)
    gen = 1 + (KEEP_GENERATIONS if case == "log_pruned" else 1)
    resolution(con, gen, ["S1"], full=case == "full_resolution")
    kwargs: dict = {}
    if case == "as_of":
        kwargs["as_of"] = "2026-12-01"
    elif case == "fingerprint":
        kwargs["fingerprint"] = "fingerprint-2"
    elif case == "switched_off":
        kwargs["allow_delta"] = False
    elif case == "last_full_failed":
        built(con, dataclasses.replace(first, reason="again"), success=False)
    p = plan(con, **kwargs)
    assert p.mode == "full" and reason in p.reason, p
    if case == "log_pruned":  # one generation fewer is still followed
        con.execute("UPDATE codes.resolution_state SET generation = generation - 1 WHERE generation > 1")
        con.execute("UPDATE codes.subject_changes SET generation = generation - 1 WHERE generation > 1")
        assert plan(con).mode == "delta"


def test_the_threshold_and_the_switch_are_read_from_the_configuration():
    shipped = yaml.safe_load((catalog_dir() / "evaluation.yaml").read_text(encoding="utf-8"))["delta"]
    assert delta.settings(load_catalogue()) == (shipped["enabled"], shipped["max_changed_share"])

    class Broken:
        def setting(self, dotted):
            return {"enabled": True}  # no max_changed_share

    with pytest.raises(CatalogueError, match="max_changed_share"):
        delta.settings(Broken())
