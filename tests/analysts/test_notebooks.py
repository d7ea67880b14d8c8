"""Every notebook runs headless (`marimo export html`, which exits non-zero when a cell
fails) against the small warehouse, and its output shows the expected sections."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from analysts_fixture import NOTEBOOKS, PENALISED

marimo = pytest.importorskip("marimo", reason="marimo is not installed (uv pip install marimo==0.25.2)")

EXPECTED = {
    "grade_distribution": ["Grade distribution", "Overall — {subjects} 个主体", "By region", "By industry",
                           "Grade reasons"],
    "score_explanation": ["Score explanation", "分析0有限公司", "Score breakdown — Σ points = {score}",
                          "Grade history", "Active records (2)"],
    "data_quality_trends": ["Data-quality trends", "Rejections by rule", "date_format", "Files not loaded",
                            "unknown_category", "Code repairs by department"],
    "sampling_coverage": ["Sampling coverage", "Plan vs population — {drawn} drawn", "Drawn subjects by grade",
                          "Published draw — {drawn} subjects"],
}


def escaped(text: str) -> str:
    """How marimo writes output text into the exported page (JSON with \\uXXXX escapes)."""
    return text.encode("ascii", "backslashreplace").decode("ascii")


@pytest.fixture(scope="module")
def exported(analysts_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    out = tmp_path_factory.mktemp("notebooks")
    for name in EXPECTED:  # run copies: marimo writes session caches (__marimo__/) beside the file
        shutil.copyfile(NOTEBOOKS / f"{name}.py", out / f"{name}.py")
    env = {**os.environ, "CREDIT_DATA_DIR": str(analysts_data_dir), "CREDIT_SUBJECT": PENALISED}
    marimo_bin = str(Path(sys.executable).parent / "marimo")
    procs = {}
    for name in EXPECTED:  # the four exports run side by side (each is mostly start-up time)
        procs[name] = subprocess.Popen(
            [marimo_bin, "export", "html", "--no-include-code", "-f", str(out / f"{name}.py"),
             "-o", str(out / f"{name}.html")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    results = {}
    for name, p in procs.items():
        log, _ = p.communicate(timeout=300)
        page = out / f"{name}.html"
        results[name] = (p.returncode, log, page.read_text(encoding="utf-8") if page.exists() else "")
    return results


def _values(db: Path) -> dict[str, object]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            "subjects": con.execute("select count(*) from marts.credit_grades where as_of = "
                                    "(select max(as_of) from marts.credit_grades)").fetchone()[0],
            "score": con.execute("select score from marts.credit_grades where subject_id = ? "
                                 "order by as_of desc limit 1", [PENALISED]).fetchone()[0],
            "drawn": con.execute("select count(*) from marts.inspection_draw").fetchone()[0],
        }


@pytest.mark.parametrize("name", list(EXPECTED))
def test_notebook_runs_headless(name, exported, analysts_warehouse):
    code, log, page = exported[name]
    assert code == 0, log[-3000:]
    assert "MarimoExceptionRaisedError" not in log
    values = _values(analysts_warehouse)
    for marker in EXPECTED[name]:
        assert escaped(marker.format(**values)) in page, (marker, log[-2000:])


def test_notebooks_are_plain_marimo_files():
    for name in EXPECTED:
        src = (NOTEBOOKS / f"{name}.py").read_text(encoding="utf-8")
        assert "app = marimo.App(" in src and 'if __name__ == "__main__":' in src
        # every connection is read-only: through the shared helper, or opened read-only
        assert "from pipelines.warehouse.notebook import" in src, f"{name} must use the shared query helper"
        assert src.count("duckdb.connect(") == src.count("read_only=True"), f"{name} opens a writable connection"


def test_notebook_queries_cannot_write(tmp_path, monkeypatch):
    """The shared helper opens the warehouse read-only: a write is refused."""
    from pipelines.warehouse import notebook

    db = tmp_path / "warehouse" / "credit.duckdb"
    db.parent.mkdir()
    with duckdb.connect(str(db)) as con:
        con.execute("create table t as select 1 as x")
    monkeypatch.setenv("CREDIT_DATA_DIR", str(tmp_path))
    assert notebook.query("select x from t")["x"].to_list() == [1]
    with pytest.raises(duckdb.Error):
        notebook.query("insert into t values (2)")
