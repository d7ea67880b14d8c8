"""The transform stage's Dagster definitions: keys line up with the other stages."""

from __future__ import annotations

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
