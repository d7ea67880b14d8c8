"""Shared fixtures. Telemetry is off for the whole session; ``credit_env`` gives a test an
empty data directory with every variable the project reads pointing into it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TEST_PSEUDONYM_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

for _k, _v in {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "GX_ANALYTICS_ENABLED": "False",
    "DAGSTER_DISABLE_TELEMETRY": "1",
}.items():
    os.environ.setdefault(_k, _v)

# The environment's own executables (dbt, dagster) even when pytest is run as
# .venv/bin/pytest without activating the environment.
_bin = str(Path(sys.executable).parent)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")


@pytest.fixture
def credit_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``CREDIT_DATA_DIR`` (returned) with ``DAGSTER_HOME`` inside it and a fixed
    test pseudonym key."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    monkeypatch.setenv("CREDIT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DAGSTER_HOME", str(data_dir / "dagster_home"))
    monkeypatch.setenv("CREDIT_PSEUDONYM_KEY", TEST_PSEUDONYM_KEY)
    monkeypatch.delenv("CREDIT_AS_OF", raising=False)
    return data_dir


# The longest modules first (seconds on 2 cores, `pytest --durations`, 2026-12-03). `make
# test` runs with `--dist loadscope --no-loadscope-reorder`: a module goes whole to one
# worker (its module and session fixtures are built once, not once per worker), and
# workers take modules in this order, so the long ones do not start last and leave one
# worker idle at the end. Modules not listed keep pytest's order after these.
LONGEST_FIRST = (
    "test_cli.py",                              # 300: the whole pipeline: landing, full, a delivery
    "codes/test_codes_incremental.py",          # 95
    "quality/test_scorecard_incremental.py",    # 75
    "quality/test_gx_early.py",                 # 65
    "quality/test_gx_incremental.py",           # 60
    "ingest/test_equivalence.py",               # 60
    "dbt/test_dbt_warehouse.py",                # 60: the dbt session fixture
    "analysts/test_docs.py",                    # 55: with the analysts' warehouse
    "quality/test_gx_and_asset.py",             # 50
    "quality/test_gx_frame.py",                 # 50
    "dbt/test_delta_build.py",                  # 45
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    here = Path(__file__).parent

    def key(item: pytest.Item) -> int:
        rel = item.path.relative_to(here).as_posix() if item.path.is_relative_to(here) else ""
        return rank.get(rel, len(rank))

    items.sort(key=key)  # stable: within a module, and among the rest, pytest's order
