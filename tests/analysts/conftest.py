"""Session fixture: the small warehouse of analysts_fixture.py in a tmp CREDIT_DATA_DIR,
built once even under pytest-xdist (the workers share it, read-only, behind a file lock)."""

from __future__ import annotations

import fcntl
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from analysts_fixture import build_analysts_warehouse  # noqa: E402


@pytest.fixture(scope="session")
def analysts_data_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":  # xdist worker: share with the others
        root = root.parent
    data_dir = root / "analysts_shared" / "data"
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(data_dir.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (data_dir.parent / ".built").exists():
                build_analysts_warehouse(data_dir)
                (data_dir.parent / ".built").touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return data_dir


@pytest.fixture(scope="session")
def analysts_warehouse(analysts_data_dir: Path) -> Path:
    return analysts_data_dir / "warehouse" / "credit.duckdb"
