"""Session fixture (connections are read-write: dbt-duckdb keeps the file open in this
process and DuckDB refuses a second configuration). A tiny warehouse in a tmp dir, the dbt project parsed once and built
four times (a past as_of, the current as_of, the past as_of again — it must reproduce
the first — and the current as_of again, so the as-of marts reflect AS_OF)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt_scenario import AS_OF, PAST_AS_OF, build

from pipelines.settings import PROJECT_ROOT

DBT_DIR = PROJECT_ROOT / "dbt_project"
# The layers these tests cover (other stages add their own models, e.g. models/sampling,
# tested by their own suites).
OWN_LAYERS = ["path:models/staging", "path:models/intermediate", "path:models/marts", "resource_type:seed"]


@dataclass
class DbtWarehouse:
    data_dir: Path
    db_path: Path
    builds: list[tuple[str, Any]] = field(default_factory=list)
    past_grades_first: list[tuple] = field(default_factory=list)
    # a relation the project retired (dbt_project.yml retired_relations), planted in the
    # warehouse after the first build as an upgraded warehouse would hold it
    planted_retired: str = ""

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        con = duckdb.connect(str(self.db_path), read_only=False)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.db_path), read_only=False)


def _grades(db: Path, as_of: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=False)
    try:
        return con.execute("""select subject_id, score, grade, grade_reason, model_version
                              from marts.credit_grades where as_of = ? order by subject_id""",
                           [as_of]).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="session")
def dbt_warehouse(tmp_path_factory: pytest.TempPathFactory) -> DbtWarehouse:
    from dbt.cli.main import dbtRunner

    root = tmp_path_factory.mktemp("dbt_wh")
    data_dir = root / "data"
    db = data_dir / "warehouse" / "credit.duckdb"
    build(db)
    previous = os.environ.get("CREDIT_DATA_DIR")
    os.environ["CREDIT_DATA_DIR"] = str(data_dir)
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "False"
    common = ["--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
              "--target-path", str(root / "target"), "--log-path", str(root / "logs"), "--quiet"]
    wh = DbtWarehouse(data_dir=data_dir, db_path=db)
    try:
        parsed = dbtRunner().invoke(["parse", "--no-partial-parse", *common])
        assert parsed.success, parsed.exception
        runner = dbtRunner(manifest=parsed.result)
        for i, as_of in enumerate((PAST_AS_OF, AS_OF, PAST_AS_OF, AS_OF)):
            res = runner.invoke(["build", "--vars", f"{{as_of: '{as_of}'}}", "--select", *OWN_LAYERS, *common])
            wh.builds.append((as_of, res))
            assert res.success, [
                (r.node.name, str(r.status), r.message) for r in (res.result or []) if str(r.status) not in ("success", "pass")
            ] or res.exception
            if i == 0:
                wh.past_grades_first = _grades(db, PAST_AS_OF)
                wh.planted_retired = "intermediate.int_records_as_of"
                wh.query(f"create table {wh.planted_retired} as select 1 as record_id")
    finally:
        if previous is None:
            os.environ.pop("CREDIT_DATA_DIR", None)
        else:
            os.environ["CREDIT_DATA_DIR"] = previous
    return wh
