"""Fixtures of the delivery tests: a hand-made marts layer in a tmp DuckDB (fast, no dbt)."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from deliver_fixture import fake_marts  # noqa: E402


@pytest.fixture
def fake_warehouse(tmp_path: Path) -> Path:
    return fake_marts(tmp_path / "warehouse" / "credit.duckdb")


@pytest.fixture
def con(fake_warehouse: Path):
    c = duckdb.connect(str(fake_warehouse))
    yield c
    c.close()
