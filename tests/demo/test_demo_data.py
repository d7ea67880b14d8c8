"""credit demo-data: determinism, coverage of categories and error classes, valid codes,
consistent truth."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipelines.catalogue import load_catalogue
from pipelines.codes.generate import (
    id_number_valid,
    make_id_numbers,
    make_org_codes,
    make_reg_nos,
    make_usccs,
    org_code_valid,
    reg_no_valid,
    uscc_valid,
)
from pipelines.demo import CODE_CLASSES, ROW_CLASSES, generate_demo
from pipelines.demo.generator import BAD_FILES, LOADED_VARIANTS

N = 1500


def _digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("demo")
    generate_demo(d, subjects=N, seed=42)
    return d


@pytest.fixture(scope="module")
def truth(demo) -> dict[str, pl.DataFrame]:
    return {k: pl.read_parquet(demo / "demo_truth" / f"{k}.parquet") for k in ("files", "rows", "codes", "subjects")}


def test_deterministic_for_a_seed(demo, tmp_path):
    again = tmp_path / "again"
    generate_demo(again, subjects=N, seed=42)
    assert _digest(demo) == _digest(again)
    other = tmp_path / "other"
    generate_demo(other, subjects=N, seed=43)
    a, b = _digest(demo / "inbox"), _digest(other / "inbox")
    assert a != b
    assert sum(a.get(k) == v for k, v in b.items()) < len(b) / 2


def test_rerun_over_own_output_and_refuses_foreign_inbox(tmp_path):
    generate_demo(tmp_path, subjects=200, seed=1)
    generate_demo(tmp_path, subjects=200, seed=2)  # replaces its own files
    (tmp_path / "inbox" / "scjg" / "mine.csv").write_text("x")
    with pytest.raises(FileExistsError):
        generate_demo(tmp_path, subjects=200, seed=3)


def test_layout_and_every_category_from_every_department(demo, truth):
    cat = load_catalogue()
    files = truth["files"]
    loaded = files.filter(pl.col("expected_status") == "loaded")
    have = set(zip(loaded["department_code"], loaded["category"], strict=True))
    for d in cat.departments.values():
        for c in d.submits:
            assert (d.code, c) in have, (d.code, c)
    for rel in files["source_file"]:
        assert (demo / "inbox" / rel).is_file()
    on_disk = {p.relative_to(demo / "inbox").as_posix() for p in (demo / "inbox").rglob("*") if p.is_file()}
    assert on_disk == set(files["source_file"])
    for rel in loaded["source_file"]:
        dept, batch, name = rel.split("/")
        assert dept in cat.departments
        assert len(batch.split("_")[0]) in (8, 10)
        stem, ext = name.rsplit(".", 1)
        assert ext in ("csv", "xlsx", "json")
        parts = stem.split("_")
        assert any(cat.category("_".join(parts[:i])) for i in range(len(parts), 0, -1)), rel


def test_every_error_class_present(truth):
    rows, files, codes = truth["rows"], truth["files"], truth["codes"]
    row_classes = set(rows["error_class"].drop_nulls())
    for c in [*ROW_CLASSES, *CODE_CLASSES, "duplicate_row", "redelivered", "duplicate_file", "missing_column",
              "category_not_submitted", "multiple_codes", "duplicate_code"]:
        assert c in row_classes, c
    file_classes = set(files["error_class"].drop_nulls())
    for c in [*LOADED_VARIANTS, *BAD_FILES, "category_not_submitted"]:
        assert c in file_classes, c
    assert set(codes["problem"]) >= set(CODE_CLASSES) | {"multiple_codes", "duplicate_code"}
    assert set(rows["expected_outcome"]) == {"loaded", "rejected", "duplicate", "superseded"}


def test_truth_consistent(demo, truth):
    rows, files, codes = truth["rows"], truth["files"], truth["codes"]
    assert rows.select("source_file", "source_row").is_unique().all()
    assert codes.select("source_file", "source_row").is_unique().all()
    assert set(rows["source_file"]) <= set(files["source_file"])
    n = rows.group_by("source_file").agg(pl.len().alias("n"), pl.col("source_row").max().alias("mx"))
    assert (n["n"] == n["mx"]).all()
    per_file = files.join(n, on="source_file", how="left").with_columns(pl.col("n").fill_null(0))
    assert (per_file["rows"] == per_file["n"]).all()
    # unreadable / rejected-before-reading files have no rows
    assert per_file.filter(pl.col("expected_rule").is_in(["unreadable", "empty", "unknown_department"]))["n"].sum() == 0
    # rejected rows carry a rule; others do not
    rej = rows.filter(pl.col("expected_outcome") == "rejected")
    assert rej["expected_rule"].null_count() == 0
    assert rows.filter(pl.col("expected_outcome") != "rejected")["expected_rule"].null_count() == \
        rows.filter(pl.col("expected_outcome") != "rejected").height
    clean = rows.filter(pl.col("error_class").is_null())
    assert (clean["expected_outcome"] == "loaded").all()
    # every code row is a data row
    j = codes.join(rows, on=["source_file", "source_row"], how="left")
    assert j["expected_outcome"].null_count() == 0
    # the number of data rows in each CSV matches the truth
    for rel, enc, nrows in files.filter((pl.col("file_format") == "csv") & (pl.col("rows") > 0)).select(
            "source_file", "encoding", "rows").iter_rows():
        df = pl.read_csv(demo / "inbox" / rel, encoding="utf8-lossy" if enc != "gb18030" else "utf8-lossy",
                         infer_schema=False) if enc != "gb18030" else pl.read_csv(
            (demo / "inbox" / rel).read_bytes().decode("gb18030").encode(), infer_schema=False)
        assert df.height == nrows, rel
    for rel, nrows in files.filter(pl.col("file_format") == "json").select("source_file", "rows").iter_rows():
        assert len(json.loads((demo / "inbox" / rel).read_text(encoding="utf-8"))) == nrows


def test_superseded_rows_have_a_later_loaded_twin(demo, truth):
    cat = load_catalogue()
    rows = truth["rows"].filter(pl.col("error_class") == "redelivered")
    assert set(rows["expected_outcome"]) == {"loaded", "superseded"}
    assert rows.filter(pl.col("expected_outcome") == "loaded").height == \
        rows.filter(pl.col("expected_outcome") == "superseded").height
    assert cat  # keys are compared end to end by the ingestion tests


def test_codes_valid_where_they_should_be(truth):
    from stdnum.cn import ric, uscc

    subj = truth["subjects"]
    orgs = subj.filter(pl.col("uscc").is_not_null())
    u = orgs["uscc"].to_numpy().astype(str)
    assert uscc_valid(u).all()
    assert all(uscc.is_valid(x) for x in u.tolist())
    assert org_code_valid(orgs["org_code"].to_numpy().astype(str)).all()
    assert (orgs["org_code"] == orgs["uscc"].str.slice(8, 9)).all()
    rn = orgs["reg_no"].drop_nulls().to_numpy().astype(str)
    assert len(rn) and reg_no_valid(rn).all()
    ids = pl.concat([subj["id_no"].drop_nulls(), orgs["legal_rep_id_no"].drop_nulls()]).to_numpy().astype(str)
    assert id_number_valid(ids).all()
    assert all(ric.is_valid(x) for x in ids.tolist())
    reg = subj.filter(pl.col("in_register") | pl.col("conflict").is_not_null())
    assert reg["uscc"].drop_nulls().is_unique().all()
    # codes truth: problems that should not validate do not, true codes do
    codes = truth["codes"]
    true = codes["true_uscc"].drop_nulls().to_numpy().astype(str)
    assert uscc_valid(true).all()
    bad = codes.filter(pl.col("problem").is_in(["code_lookalike", "code_typo", "code_excel_float",
                                                "code_invalid_name", "code_garbage"]))
    assert not uscc_valid(bad["original_value"].to_numpy().astype(str)).any()
    typo = codes.filter(pl.col("problem") == "code_typo")
    for o, t in typo.select("original_value", "true_uscc").iter_rows():
        assert sum(a != b for a, b in zip(o, t, strict=True)) == 1


def test_generators_match_stdnum():
    from stdnum.cn import ric, uscc

    rng = np.random.default_rng(5)
    prefixes = ["11", "12", "51", "52", "91", "92", "93", "31", "61"]
    u = make_usccs(rng, 3000, prefixes, ["130102", "130200", "130606"])
    assert uscc_valid(u).all() and all(uscc.is_valid(x) for x in u.tolist())
    broken = np.array([x[:17] + ("0" if x[17] != "0" else "1") for x in u[:200].tolist()])
    assert not uscc_valid(broken).any()
    assert not any(uscc.is_valid(x) for x in broken.tolist())
    assert org_code_valid(make_org_codes(rng, 500)).all()
    assert reg_no_valid(make_reg_nos(rng, 500, "130100")).all()
    assert reg_no_valid(np.array(["321000400012591"])).all()
    ids = make_id_numbers(rng, 2000, ["130102", "130104"], born_from="1984-01-01", born_to="2005-12-31")
    assert id_number_valid(ids).all() and all(ric.is_valid(x) for x in ids.tolist())
    vectors = ["91110000600037341L", "121200004013590816", "9144030071526726XG", "91350100M000100Y43",
               "92340602MA2PBMEM24", "91620105L015101280"]
    assert uscc_valid(vectors).all()
    assert not uscc_valid(["A1110000600037341L", "12345", "9111000060003IOZSV", "91110000600037341N"]).any()
    assert id_number_valid(["360426199101010071", "44011320141005001X"]).all()
    assert not id_number_valid(["360426199102300071"]).any()


def test_no_errors_when_rate_zero(tmp_path):
    generate_demo(tmp_path, subjects=300, seed=3, error_rate=0.0)
    rows = pl.read_parquet(tmp_path / "demo_truth" / "rows.parquet")
    files = pl.read_parquet(tmp_path / "demo_truth" / "files.parquet")
    assert rows["error_class"].null_count() == rows.height
    assert (files["expected_status"] == "loaded").all()


@pytest.mark.slow
def test_rate_extrapolates_to_about_a_minute_for_a_million(tmp_path):
    n = 50_000
    generate_demo(tmp_path / "warm", subjects=500, seed=11)  # imports, catalogue
    c0 = time.process_time()
    generate_demo(tmp_path / "run", subjects=n, seed=11)
    cpu = time.process_time() - c0
    # CPU time (all threads), not wall time: the machine is shared. Linear extrapolation
    # to 1M subjects must stay around a minute of a 2-core machine (≈ 2 CPU-minutes).
    assert cpu * (1_000_000 / n) < 150, cpu
