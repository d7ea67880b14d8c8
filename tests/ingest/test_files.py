"""File-level outcomes, idempotency, duplicates, supersession, atomicity, headers."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import duckdb
import pytest
from ingest_helpers import KEY, PENALTY, csv_bytes, deliver, penalty, query

from pipelines.ingest import discover, ingest_inbox, load, pull_sources
from pipelines.ingest.discover import category_from_stem, parse_batch

TABLES = ["audit.loads", "audit.row_outcomes", "audit.rejected_rows", "raw.admin_penalty"]


def snapshot(paths):
    return {t: query(paths, f"select * from {t} order by all") for t in TABLES}


def test_file_level_rejections(paths, catalogue):
    good = csv_bytes([penalty(1)])
    deliver(paths, "xyz/20240310/admin_penalty.csv", good)
    deliver(paths, "scjg/2024-13-01/admin_penalty.csv", good)
    deliver(paths, "scjg/latest/admin_penalty.csv", csv_bytes([penalty(2)]))
    deliver(paths, "scjg/20240310/违法记录.csv", good)
    deliver(paths, "scjg/20240310/admin_penalty.xls", b"\xd0\xcf\x11\xe0")
    deliver(paths, "scjg/20240310/admin_penalty_empty.csv", b"")
    deliver(paths, "scjg/20240310/admin_penalty_bad.json", b"[{oops")
    missing = csv_bytes([penalty(3), penalty(4)], headers=[h for h in PENALTY if h not in ("违法事实", "处罚机关")])
    deliver(paths, "scjg/20240310/admin_penalty_missing.csv", missing)
    rep = ingest_inbox(paths, catalogue, key=KEY)
    got = {f.source_file: (f.status, f.rule) for f in rep.files}
    expected = {
        "xyz/20240310/admin_penalty.csv": ("rejected_file", "unknown_department"),
        "scjg/2024-13-01/admin_penalty.csv": ("rejected_file", "bad_batch"),
        "scjg/latest/admin_penalty.csv": ("rejected_file", "bad_batch"),
        "scjg/20240310/违法记录.csv": ("rejected_file", "unknown_category"),
        "scjg/20240310/admin_penalty.xls": ("rejected_file", "unsupported_format"),
        "scjg/20240310/admin_penalty_empty.csv": ("rejected_file", "empty"),
        "scjg/20240310/admin_penalty_bad.json": ("rejected_file", "unreadable"),
        "scjg/20240310/admin_penalty_missing.csv": ("rejected_file", "missing_column"),
    }
    assert got == expected

    loads = query(paths, "select source_file, status, rule, reason, rows_read, rows_rejected from audit.loads")
    assert loads.height == 8 and set(loads["status"]) == {"rejected_file"}
    reason = loads.filter(loads["source_file"] == "scjg/20240310/admin_penalty_missing.csv").to_dicts()[0]
    assert reason["reason"] == "缺少必填列：「违法事实」、「处罚机关」"
    assert reason["rule"] == "missing_column"
    assert (reason["rows_read"], reason["rows_rejected"]) == (2, 2)
    # every rejected file: its rule id, and a reason in Chinese an official can read
    assert dict(zip(loads["source_file"], loads["rule"], strict=True)) == {k: v[1] for k, v in expected.items()}
    assert all(r and not r.isascii() for r in loads["reason"])
    out = query(paths, "select source_file, source_row, outcome from audit.row_outcomes order by 1, 2")
    assert out.rows() == [
        ("scjg/20240310/admin_penalty_missing.csv", 1, "rejected"),
        ("scjg/20240310/admin_penalty_missing.csv", 2, "rejected"),
    ]
    rej = query(paths, "select rule_ids, raw from audit.rejected_rows order by source_row")
    assert rej["rule_ids"][0].to_list() == ["missing_column"]
    assert json.loads(rej["raw"][1])["行政处罚决定书文号"] == "榕市监罚〔2024〕4号"


def test_idempotent_rerun(paths, catalogue):
    deliver(paths, "scjg/20240310/admin_penalty.csv", csv_bytes([penalty(1), penalty(2, 违法事实="")]))
    deliver(paths, "scjg/20240311/admin_penalty.csv", csv_bytes([penalty(1, 违法事实="更正后的事实")]))
    deliver(paths, "scjg/20240311/bad.csv", b"x")
    ingest_inbox(paths, catalogue, key=KEY)
    first = snapshot(paths)
    rep = ingest_inbox(paths, catalogue, key=KEY)
    assert {f.status for f in rep.files} == {"skipped"} and rep.categories == {}
    second = snapshot(paths)
    for t in TABLES:
        assert first[t].equals(second[t]), t


def test_duplicate_file_and_changed_file(paths, catalogue):
    data = csv_bytes([penalty(1), penalty(2)])
    deliver(paths, "scjg/20240310/admin_penalty.csv", data)
    ingest_inbox(paths, catalogue, key=KEY)
    deliver(paths, "scjg/20240312/行政处罚.csv", data)  # same bytes, another path
    p = deliver(paths, "scjg/20240310/admin_penalty.csv", csv_bytes([penalty(1), penalty(3)]))  # changed
    rep = ingest_inbox(paths, catalogue, key=KEY)
    got = {f.source_file: (f.status, f.rule) for f in rep.processed}
    assert got == {
        "scjg/20240312/行政处罚.csv": ("duplicate_file", "duplicate_file"),
        "scjg/20240310/admin_penalty.csv": ("rejected_file", "changed_file"),
    }
    dup = query(paths, "select outcome from audit.row_outcomes where source_file = 'scjg/20240312/行政处罚.csv'")
    assert dup["outcome"].to_list() == ["duplicate", "duplicate"]
    loads = query(paths, "select source_file, sha256, status from audit.loads order by all")
    assert loads.height == 3
    # the changed file's rows are not read: the original outcomes stay
    assert query(paths, "select count(*) n from audit.row_outcomes where source_file = 'scjg/20240310/admin_penalty.csv'")["n"][0] == 2
    assert query(paths, "select count(*) n from raw.admin_penalty")["n"][0] == 2
    # archived by content
    sha = hashlib.sha256(p.read_bytes()).hexdigest()
    assert (paths.archive / sha[:2] / sha).read_bytes() == p.read_bytes()
    # and a re-run changes nothing
    before = snapshot(paths)
    assert {f.status for f in ingest_inbox(paths, catalogue, key=KEY).files} == {"skipped"}
    after = snapshot(paths)
    assert all(before[t].equals(after[t]) for t in TABLES)


def test_duplicate_rows_within_a_file(paths, catalogue):
    rows = [penalty(1), penalty(2), penalty(1), penalty(1, 违法事实="不同")]
    deliver(paths, "scjg/20240310/admin_penalty.csv", csv_bytes(rows))
    rep = ingest_inbox(paths, catalogue, key=KEY)
    f = rep.files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_duplicate) == (4, 3, 1)
    out = query(paths, "select source_row, outcome from audit.row_outcomes order by 1")
    # row 4 has the same record key as row 1 and comes later: it supersedes row 1
    assert out.rows() == [(1, "superseded"), (2, "loaded"), (3, "duplicate"), (4, "loaded")]


def test_supersession_across_batches_keeps_history(paths, catalogue):
    deliver(paths, "scjg/20240310/admin_penalty.csv", csv_bytes([penalty(1), penalty(2)]))
    ingest_inbox(paths, catalogue, key=KEY)
    deliver(paths, "scjg/20240320/admin_penalty.csv", csv_bytes([penalty(1, 违法事实="更正")]))
    # a late older delivery of the same record does not win
    deliver(paths, "scjg/20240306/admin_penalty.csv", csv_bytes([penalty(1, 违法事实="最早")]))
    rep = ingest_inbox(paths, catalogue, key=KEY)
    assert rep.categories["admin_penalty"].rows_superseded == 2
    raw = query(
        paths,
        "select record_id, facts, batch, is_current, superseded_by from raw.admin_penalty "
        "where decision_no like '%1号' order by batch",
    ).to_dicts()
    assert [r["facts"] for r in raw] == ["最早", "发布虚假广告", "更正"]
    assert [r["is_current"] for r in raw] == [False, False, True]
    current = raw[2]["record_id"]
    assert [r["superseded_by"] for r in raw] == [current, current, None]
    out = query(paths, "select source_file, outcome from audit.row_outcomes where source_row = 1 order by 1")
    assert out.rows() == [
        ("scjg/20240306/admin_penalty.csv", "superseded"),
        ("scjg/20240310/admin_penalty.csv", "superseded"),
        ("scjg/20240320/admin_penalty.csv", "loaded"),
    ]
    assert query(paths, "select count(*) n from raw.admin_penalty where is_current")["n"][0] == 2


def test_crash_mid_file_leaves_nothing(paths, catalogue, monkeypatch):
    deliver(paths, "scjg/20240310/admin_penalty.csv", csv_bytes([penalty(1)]))
    deliver(paths, "scjg/20240311/admin_penalty.csv", csv_bytes([penalty(2), penalty(3)]))

    def boom(f):
        if f.batch == "20240311":
            raise RuntimeError("injected crash")

    monkeypatch.setattr(load, "_after_raw_insert", boom)
    with pytest.raises(RuntimeError, match="injected"):
        ingest_inbox(paths, catalogue, key=KEY)
    for t in TABLES:
        n = query(paths, f"select count(*) n from {t} where source_file like 'scjg/20240311/%'")["n"][0]
        assert n == 0, t
    assert query(paths, "select count(*) n from raw.admin_penalty")["n"][0] == 1
    monkeypatch.setattr(load, "_after_raw_insert", None)
    rep = ingest_inbox(paths, catalogue, key=KEY)
    assert [(f.source_file, f.status) for f in rep.processed] == [("scjg/20240311/admin_penalty.csv", "loaded")]
    assert query(paths, "select count(*) n from raw.admin_penalty")["n"][0] == 3


def test_headers_by_label_code_alias_fullwidth_shuffled_extra(paths, catalogue):
    row = penalty(1)
    codes = {f.label: f.code for f in catalogue.categories["admin_penalty"].fields}
    headers = {h: codes[h] for h in row}  # national field codes
    headers["行政相对人名称"] = "  当事人名称 "  # alias with spaces
    headers["处罚决定日期"] = "ＣＦ＿ＪＤＲＱ"  # full-width field code
    headers["罚款金额（万元）"] = "罚款金额(万元)"  # half-width brackets of the label
    headers["违法事实"] = "违 法 事 实"
    cols = list(reversed(row)) + ["经办人", "联系电话"]
    data = {headers.get(k, k): v for k, v in row.items()} | {"经办人": "李四", "联系电话": "0591-1234"}
    order = [headers.get(c, c) for c in cols]
    deliver(paths, "scjg/20240310/admin_penalty.csv", csv_bytes([data], headers=order))
    rep = ingest_inbox(paths, catalogue, key=KEY)
    f = rep.files[0]
    assert f.status == "loaded" and f.rows_loaded == 1, f
    assert f.extra_columns == ["经办人", "联系电话"]
    raw = query(paths, "select subject_name, facts, decided_on, fine, extra from raw.admin_penalty").to_dicts()[0]
    assert raw["subject_name"] == "福州某某贸易有限公司" and raw["facts"] == "发布虚假广告"
    assert raw["decided_on"] == dt.date(2024, 3, 5) and raw["fine"] == 1.0
    assert json.loads(raw["extra"]) == {"经办人": "李四", "联系电话": "0591-1234"}
    assert query(paths, "select extra_columns from audit.loads")["extra_columns"][0].to_list() == ["经办人", "联系电话"]


def test_discover_order_batches_and_category_names(paths, catalogue):
    for rel in ["scjg/20240311/admin_penalty.csv", "scjg/2024-03-10_2/行政处罚_11月.csv",
                "fy/20240310/失信被执行人.csv", "scjg/.20240401.pulling-1/admin_penalty.csv"]:
        deliver(paths, rel, b"a\n1\n")
    found = discover(paths.inbox, catalogue)
    assert [f.source_file for f in found] == [
        "scjg/2024-03-10_2/行政处罚_11月.csv", "fy/20240310/失信被执行人.csv", "scjg/20240311/admin_penalty.csv"
    ]
    assert [f.category_id for f in found] == ["admin_penalty", "dishonest_debtor", "admin_penalty"]
    assert parse_batch("20240229") == dt.date(2024, 2, 29) and parse_batch("20230229") is None
    assert parse_batch("2024-03-10_补报") == dt.date(2024, 3, 10) and parse_batch("2024-0310") is None
    assert category_from_stem("admin_penalty_v2", catalogue).id == "admin_penalty"
    assert category_from_stem("admin", catalogue) is None


def test_pull_sources_copies_new_batches_once(paths, catalogue):
    src = paths.sources / "scjg" / "20240310"
    src.mkdir(parents=True)
    (src / "admin_penalty.csv").write_bytes(csv_bytes([penalty(1)]))
    (paths.sources / "scjg" / "20240311").mkdir()
    pulled = pull_sources(paths, catalogue)
    assert [(b.department_code, b.batch, b.files) for b in pulled] == [
        ("scjg", "20240310", ["scjg/20240310/admin_penalty.csv"]),
        ("scjg", "20240311", []),
    ]
    assert (paths.inbox / "scjg/20240310/admin_penalty.csv").read_bytes() == (src / "admin_penalty.csv").read_bytes()
    assert pull_sources(paths, catalogue) == []
    assert not list(paths.inbox.glob("scjg/.*"))


def test_ensure_tables_columns(catalogue, tmp_path):
    from pipelines.ingest import ensure_tables

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_tables(con, catalogue)
    ensure_tables(con, catalogue)
    cols = [r[0] for r in con.execute("describe raw.admin_penalty").fetchall()]
    assert cols[0] == "record_id" and cols[-13:] == [
        "source_file", "source_row", "department_code", "batch", "batch_date", "load_id", "loaded_at",
        "record_key", "is_current", "superseded_by", "flags", "money_suspicious", "extra"]
    assert "id_no_hash" in cols and "id_no_masked" in cols and "legal_rep_id_no_masked" in cols
    insp = [r[0] for r in con.execute("describe raw.inspector").fetchall()]
    assert "name_hash" in insp and "name_masked" not in insp


def test_pull_from_a_remote_fsspec_source(paths, catalogue):
    """A department's source may be any fsspec URL (sftp://, s3:// … in deployments):
    the same code path, exercised on fsspec's in-memory filesystem."""
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/credit-test/zjj/2024-03-12_2/行政处罚_3月.csv", csv_bytes([penalty(7)]))
    depts = dict(catalogue.departments)
    depts["zjj"] = depts["zjj"].model_copy(update={"source": {"url": "memory://credit-test/zjj"}})
    remote = catalogue.model_copy(update={"departments": depts})
    try:
        pulled = pull_sources(paths, remote)
        assert [(b.department_code, b.batch, b.files) for b in pulled] == [
            ("zjj", "2024-03-12_2", ["zjj/2024-03-12_2/行政处罚_3月.csv"])]
        assert pull_sources(paths, remote) == []  # pulled once
        rep = ingest_inbox(paths, remote, key=KEY)
        assert [(f.source_file, f.status, f.rows_loaded) for f in rep.files] == [
            ("zjj/2024-03-12_2/行政处罚_3月.csv", "loaded", 1)]
    finally:
        fs.rm("/credit-test", recursive=True)
