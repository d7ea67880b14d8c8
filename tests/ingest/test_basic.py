from __future__ import annotations

from ingest_helpers import KEY, csv_bytes, deliver, penalty, query

from pipelines.ingest import ingest_inbox


def test_loads_clean_and_rejects_bad_rows(paths, catalogue):
    rows = [penalty(1), penalty(2, 处罚决定日期="2026-02-30"), penalty(3, **{"罚款金额（万元）": ""}), penalty(1)]
    deliver(paths, "scjg/20240310/admin_penalty.csv", csv_bytes(rows))
    rep = ingest_inbox(paths, catalogue, key=KEY)
    st = rep.categories["admin_penalty"]
    assert (st.rows_read, st.rows_loaded, st.rows_rejected, st.rows_duplicate) == (4, 1, 2, 1)
    rej = query(paths, "select source_row, reasons, rule_ids from audit.rejected_rows order by 1")
    assert rej["reasons"].to_list() == [
        "「处罚决定日期」不是有效日期：2026-02-30",
        "「罚款金额（万元）」为必填项（处罚类别含「罚款」时）",
    ]
    assert rej["rule_ids"].to_list() == [["date_format"], ["required_when"]]
