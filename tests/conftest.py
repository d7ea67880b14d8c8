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
