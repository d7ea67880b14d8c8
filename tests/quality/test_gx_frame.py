"""``gx_frame`` changes how a file's rows are represented for great-expectations (dates as
UTC midnights, low-cardinality text as categoricals), never what GX concludes: every
expectation's success and result (counts, percentages, unexpected values and their
counts) is the same as GX's on the frame ``batch_frame`` builds, validated against a suite
whose date bounds are naive — apart from GX writing the UTC dates of failing values with
a ``+00:00`` suffix."""

from __future__ import annotations

import datetime as dt
import json
import re

import duckdb
import great_expectations as gx
import pandas as pd
import pytest

from pipelines.quality import gx_suites
from pipelines.quality.gx_suites import batch_frame, gx_frame
from tests.quality.test_batch_frame_vectorised import CATEGORIES, build_rich_warehouse

BATCH_DATE = pd.Timestamp("2025-10-20")


def _results(ctx, catalogue, category, frame: pd.DataFrame, batch_date) -> dict[str, tuple[bool, str]]:
    made = ctx.__dict__.setdefault("_test_checkpoints", {})
    if category.id not in made:
        made[category.id] = gx_suites._ensure_category(ctx, category, catalogue, "SUMMARY")
    cp = made[category.id]
    res = cp.run(batch_parameters={"dataframe": frame},
                 expectation_parameters={"batch_date": batch_date, "current_year": 2025},
                 run_id=gx.RunIdentifier(run_name="t", run_time=dt.datetime.now(dt.UTC)))
    out = {}
    for vr in res.run_results.values():
        for r in vr.results:
            c = r.expectation_config
            key = f"{c.type} {json.dumps({k: v for k, v in c.kwargs.items() if k != 'batch_id'}, default=str, sort_keys=True)}"
            text = json.dumps(r.result, default=str, ensure_ascii=False, sort_keys=True)
            out[key] = (bool(r.success), re.sub(r"(\d{2}:\d{2}:\d{2})\+00:00", r"\1", text),
                        repr(r.exception_info) if not r.success and r.exception_info.get("raised_exception") else "")
    return out


def _bounds_free(results: dict[str, tuple[bool, str]]) -> dict[str, tuple[bool, str]]:
    """The two suites differ only in the time zone of the earliest-date bound."""
    return {re.sub(r"\+00:00", "", k): v for k, v in results.items()}


@pytest.fixture(scope="module")
def rich(tmp_path_factory, catalogue):
    return build_rich_warehouse(tmp_path_factory.mktemp("gxrich") / "credit.duckdb", catalogue, seed=11)


def test_gx_frame_gives_the_same_results(rich, warehouse, catalogue, tmp_path, monkeypatch):
    """Every text column categorical (``share`` 1: the high-cardinality ones too), on the
    hand-built warehouse and the rich one's files that mix loaded and rejected rows (typo
    dates, aliases, masked IDs, conditions, nulls of every kind)."""
    share = 1.0
    files = []
    for path, where in ((rich, "source_file similar to '.*_(mixed|rejected_only|no_loaded_dates)[.]csv'"),
                        (warehouse, "true")):
        con = duckdb.connect(str(path), read_only=True)
        files += [(con, sf, cid) for sf, cid in con.execute(
            f"select source_file, category from audit.loads where category is not null and {where} "
            "order by 1").fetchall()]
    assert {cid for _, _, cid in files} >= set(CATEGORIES)
    plain_ctx = gx_suites.get_context(tmp_path / "plain")
    fast_ctx = gx_suites.get_context(tmp_path / "fast")
    naive_earliest = gx_suites._earliest(catalogue).replace(tzinfo=None)
    converted = {"date": 0, "category": 0}
    failing = 0
    for con, source_file, cid in files:
        category = catalogue.categories[cid]
        frame = batch_frame(con, category, source_file, None)
        if frame.empty:
            continue
        fast = gx_frame(frame, share)
        converted["date"] += sum(isinstance(t, pd.DatetimeTZDtype) for t in fast.dtypes)
        converted["category"] += sum(isinstance(t, pd.CategoricalDtype) for t in fast.dtypes)
        with monkeypatch.context() as m:
            m.setattr(gx_suites, "_earliest", lambda _c: naive_earliest)
            want = _results(plain_ctx, catalogue, category, frame, BATCH_DATE.to_pydatetime())
        got = _results(fast_ctx, catalogue, category, fast, gx_suites._as_utc(BATCH_DATE))
        assert _bounds_free(got) == _bounds_free(want), source_file
        failing += sum(not ok for ok, *_ in want.values())
    assert converted["date"] > 0 and converted["category"] > 0 and failing > 20


def test_gx_frame_representation(catalogue):
    frame = pd.DataFrame({
        "d": pd.Series(pd.to_datetime(["2025-01-02", None, "2024-02-29"]).astype("datetime64[us]")),
        "old": pd.Series(["1020-10-26", None, None], dtype="datetime64[s]"),
        "low": pd.Series(["A", "A", None], dtype="str"),
        "high": pd.Series(["x", "y", "z"], dtype="str"),
        "n": [1.0, None, 3.0],
    })
    out = gx_frame(frame, 0.7)
    assert str(out["d"].dtype) == "datetime64[us, UTC]" and str(out["old"].dtype) == "datetime64[s, UTC]"
    assert out["old"].iloc[0] == pd.Timestamp("1020-10-26", tz="UTC") and out["d"].isna().tolist() == [False, True, False]
    assert isinstance(out["low"].dtype, pd.CategoricalDtype) and out["low"].isna().tolist() == [False, False, True]
    assert out["high"].dtype == frame["high"].dtype and out["n"].dtype == "float64"
    assert str(frame["d"].dtype) == "datetime64[us]"  # the input is not changed
    assert gx_suites._as_utc(pd.Timestamp("2025-10-20")) == dt.datetime(2025, 10, 20, tzinfo=dt.UTC)
    assert gx_suites._earliest(catalogue).tzinfo is dt.UTC
