"""The pipeline scored against the generator's ground truth.

Generates a synthetic inbox with every kind of injected error (20% of rows), ingests it
and resolves the subject codes, then checks:

- conservation: every delivered row ends in exactly one recorded outcome, the one the
  truth expects, and a rejected row names the rule that was broken (accuracy per error
  class in ``test-output/conservation.json``);
- code governance (重错码治理): every code problem gets the expected status, repairs are
  right (precision ≥ 0.99: a wrong repair is worse than none) and complete (recall), and
  重码 / 多码 are found (figures in ``test-output/code_governance.json``).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.catalogue import load_catalogue
from pipelines.settings import Paths

demo = pytest.importorskip("pipelines.demo")
ingest = pytest.importorskip("pipelines.ingest")

OUT = Path(__file__).resolve().parent.parent / "test-output"


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("conservation")
    demo.generate_demo(data_dir, subjects=1500, seed=11, error_rate=0.2)
    paths = Paths(data_dir).ensure()
    cat = load_catalogue()
    ingest.ingest_inbox(paths, cat, key=b"test-key")
    from pipelines.codes.resolve import resolve_subjects

    with duckdb.connect(str(paths.warehouse)) as con:
        resolve_subjects(con, cat, b"test-key")
    truth_dir = data_dir / "demo_truth"
    rows_truth = pl.read_parquet(truth_dir / "rows.parquet")
    files_truth = pl.read_parquet(truth_dir / "files.parquet")
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        outcomes = con.sql(
            "select source_file, source_row, outcome, count(*) over (partition by source_file, source_row) n "
            "from audit.row_outcomes"
        ).pl()
        loads = con.sql("select source_file, status, reason from audit.loads").pl()
        rejected = con.sql("select source_file, source_row, rule_ids, reasons from audit.rejected_rows").pl()
    rows_truth = rows_truth.with_columns(__data_dir=pl.lit(str(data_dir)))
    return rows_truth, files_truth, outcomes, loads, rejected


def _accuracy(df: pl.DataFrame, ok: str) -> pl.DataFrame:
    return (
        df.with_columns(pl.col("error_class").fill_null("clean"))
        .group_by("error_class")
        .agg(rows=pl.len(), correct=pl.col(ok).sum())
        .with_columns(accuracy=pl.col("correct") / pl.col("rows"))
        .sort("error_class")
    )


def test_every_row_has_exactly_one_outcome(scored):
    rows_truth, _, outcomes, _, _ = scored
    assert outcomes["n"].max() == 1, "a row has more than one outcome"
    keys_truth = rows_truth.select("source_file", "source_row")
    keys_got = outcomes.select("source_file", "source_row")
    missing = keys_truth.join(keys_got, on=["source_file", "source_row"], how="anti")
    extra = keys_got.join(keys_truth, on=["source_file", "source_row"], how="anti")
    assert missing.height == 0, f"rows without an outcome: {missing.head(5)}"
    assert extra.height == 0, f"outcomes for rows the generator did not write: {extra.head(5)}"


def test_row_outcomes_match_truth_per_error_class(scored):
    rows_truth, _, outcomes, _, rejected = scored
    joined = rows_truth.join(outcomes, on=["source_file", "source_row"], how="left")
    joined = joined.with_columns(ok=pl.col("outcome") == pl.col("expected_outcome"))
    # A rejected row must name the rule the generator broke.
    rej = joined.filter(pl.col("expected_outcome") == "rejected").join(
        rejected, on=["source_file", "source_row"], how="left"
    )
    rule_ok = rej.with_columns(
        rule_ok=pl.col("expected_rule").is_null() | pl.col("rule_ids").list.contains(pl.col("expected_rule"))
    )
    acc = _accuracy(joined, "ok")
    rule_acc = _accuracy(rule_ok, "rule_ok")
    OUT.mkdir(exist_ok=True)
    (OUT / "conservation.json").write_text(
        json.dumps({"outcome": acc.to_dicts(), "rejection_rule": rule_acc.to_dicts()}, ensure_ascii=False, indent=2),
        encoding="utf-8",
    )
    print("\n", acc, "\n", rule_acc)
    bad = joined.filter(~pl.col("ok"))
    assert bad.height == 0, f"{bad.height} rows with the wrong outcome:\n{bad.head(20)}\n{acc}"
    bad_rule = rule_ok.filter(~pl.col("rule_ok"))
    assert bad_rule.height == 0, f"rejected for another rule than injected:\n{bad_rule.head(10)}"


def test_every_error_class_is_covered(scored):
    """Every row and file error class the generator knows is present at default rates,
    so the accuracy table above really scores each of them."""
    from pipelines.demo.generator import BAD_FILES, LOADED_VARIANTS
    from pipelines.demo.inject import LATE_CLASSES, ROW_CLASSES

    rows_truth, files_truth, *_ = scored
    row_classes = set(rows_truth["error_class"].drop_nulls().unique())
    file_classes = set(files_truth["error_class"].drop_nulls().unique())
    expected_rows = set(ROW_CLASSES) | set(LATE_CLASSES)
    expected_files = set(BAD_FILES) | set(LOADED_VARIANTS)
    assert expected_rows <= row_classes, f"row error classes missing: {expected_rows - row_classes}"
    assert expected_files <= file_classes, f"file error classes missing: {expected_files - file_classes}"


def test_file_statuses_match_truth(scored):
    _, files_truth, _, loads, _ = scored
    joined = files_truth.join(loads, on="source_file", how="left")
    assert joined["status"].null_count() == 0, "a delivered file has no audit.loads row"
    bad = joined.filter(pl.col("status") != pl.col("expected_status"))
    assert bad.height == 0, f"files with the wrong status:\n{bad}"
    rejected = joined.filter(pl.col("status") == "rejected_file")
    assert rejected["reason"].null_count() == 0 and (rejected["reason"].str.len_chars() > 0).all()


# ------------------------------------------------------------------ code governance


def _refs(paths: Paths) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    cat = load_catalogue()
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        union = " UNION ALL ".join(
            f"SELECT record_id, source_file, source_row FROM raw.{c.id}"
            for c in cat.categories.values() if c.subject_ref_fields
        )
        refs = con.sql(
            f"SELECT r.source_file, r.source_row, s.status, s.method, s.resolved_uscc, s.subject_id "
            f"FROM ({union}) r JOIN codes.subject_refs s USING (record_id)"
        ).pl()
        conflicts = con.sql("SELECT kind, uscc, name FROM audit.code_conflicts").pl()
        resolutions = con.sql("SELECT source_file, source_row, status FROM audit.code_resolutions").pl()
    return refs, conflicts, resolutions


@pytest.fixture(scope="module")
def governed(scored):
    rows_truth, *_ = scored
    data_dir = Path(rows_truth["__data_dir"][0]) if "__data_dir" in rows_truth.columns else None
    assert data_dir is not None
    paths = Paths(data_dir)
    truth = pl.read_parquet(data_dir / "demo_truth" / "codes.parquet")
    refs, conflicts, resolutions = _refs(paths)
    return truth, refs, conflicts, resolutions


def test_code_problems_get_the_expected_status(governed):
    truth, refs, _, _ = governed
    per_row = truth.filter(pl.col("expected_status") != "conflict").join(
        refs, on=["source_file", "source_row"], how="left"
    )
    per_row = per_row.with_columns(ok=pl.col("status") == pl.col("expected_status"))
    acc = (per_row.group_by("problem").agg(rows=pl.len(), correct=pl.col("ok").sum())
           .with_columns(accuracy=pl.col("correct") / pl.col("rows")).sort("problem"))
    print("\n", acc)
    bad = per_row.filter(~pl.col("ok").fill_null(False))
    assert bad.height == 0, f"code problems with the wrong status:\n{bad.head(20)}"


def test_repairs_are_precise_and_complete(governed):
    truth, refs, _, _ = governed
    truth_by_row = truth.select("source_file", "source_row", "true_uscc", "expected_status")
    repaired = refs.filter(pl.col("status") == "repaired").join(
        truth_by_row, on=["source_file", "source_row"], how="left"
    )
    right = repaired.filter(pl.col("resolved_uscc") == pl.col("true_uscc")).height
    precision = right / repaired.height if repaired.height else 1.0
    expected = truth_by_row.filter(pl.col("expected_status") == "repaired")
    found = expected.join(refs, on=["source_file", "source_row"], how="left").filter(
        (pl.col("status") == "repaired") & (pl.col("resolved_uscc") == pl.col("true_uscc"))
    ).height
    recall = found / expected.height if expected.height else 1.0
    OUT.mkdir(exist_ok=True)
    (OUT / "code_governance.json").write_text(json.dumps(
        {"repairs": repaired.height, "correct": right, "precision": precision,
         "expected_repairs": expected.height, "found": found, "recall": recall}, indent=2), encoding="utf-8")
    print(f"\nrepairs: precision {precision:.3f} ({right}/{repaired.height}), recall {recall:.3f} ({found}/{expected.height})")
    assert repaired.height > 0 and expected.height > 0
    wrong = repaired.filter(pl.col("resolved_uscc") != pl.col("true_uscc"))
    assert precision >= 0.99, f"wrong repairs:\n{wrong}"
    assert recall >= 0.99, f"repairs missed (recall {recall:.3f})"


def test_conflicts_are_detected(governed):
    truth, _, conflicts, _ = governed
    expected = truth.filter(pl.col("expected_status") == "conflict")
    assert expected.height > 0
    kinds = {"duplicate_code": "duplicate_code", "multiple_codes": "multiple_codes"}
    for problem, kind in kinds.items():
        want = set(expected.filter(pl.col("problem") == problem)["true_uscc"].drop_nulls())
        got = set(conflicts.filter(pl.col("kind") == kind)["uscc"])
        assert want, f"no {problem} injected"
        assert want <= got, f"{problem} not detected for {want - got}"


def test_every_invalid_reference_is_logged_once(governed):
    """audit.code_resolutions: exactly one row per reference not valid as delivered."""
    _, refs, _, resolutions = governed
    assert resolutions.select("source_file", "source_row").is_duplicated().sum() == 0
    not_valid = refs.filter(pl.col("status").is_in(["repaired", "ambiguous", "unresolved", "unknown_subject"]))
    assert not_valid.height == resolutions.height
