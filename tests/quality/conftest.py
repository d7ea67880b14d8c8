"""A small hand-built warehouse with KNOWN errors (architecture.md columns).

scjg (市场监督管理局), admin_penalty:
  scjg/20251009/admin_penalty.csv  5 rows: r1..r3 loaded, r4 superseded (by 20251020 r1), r5 rejected
                                   (处罚决定日期 empty → required; 罚款 without amount → required_when)
  scjg/20251020/admin_penalty.csv  3 rows: r1, r2 loaded, r3 rejected (enum; a 自然人 with an ID number)
  scjg/20251020_2/admin_penalty.csv  duplicate_file: 3 rows duplicate
sthj (生态环境局), admin_penalty:
  sthj/20251015/admin_penalty.csv  2 rows loaded
  sthj/20251015/行政处罚_补报.csv    rejected_file (missing_column), 2 rows, not itemised
Main dates (decided_on) chosen around 国庆/中秋 2025 (Oct 1–8 off, Sep 28 and Oct 11 worked):
  scjg lags 1, 4, 11, 3 | 11, 7 working days → 4 of 6 within 7; sthj 5, 6 → 2 of 2.
codes.subject_refs (current records): scjg valid, valid(conflict), repaired, unresolved, valid; sthj valid, unknown_subject.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import duckdb
import pandas as pd
import pytest

from pipelines.catalogue import load_catalogue

ID_NO = "360402199001010071"
USCC = ["91350100M000100Y43", "91350100M000100Y44", "91350100M000100Y45", "91350100M000100Y46",
        "91350100M000100Y47", "91350100M000100Y48", "91350100M000100Y49"]


@pytest.fixture(scope="session")
def catalogue():
    return load_catalogue()


def _rid(f, r):
    return hashlib.sha256(f"{f}#{r}".encode()).hexdigest()[:20]


def _penalty_row(i, decided_on, kinds="警告", fine=None):
    return {
        "subject_name": f"测试企业{i}有限公司", "subject_kind": "法人及非法人组织", "uscc": USCC[i % 7],
        "reg_no": None, "org_code": None, "tax_reg_no": None, "inst_cert_no": None, "social_org_no": None,
        "legal_rep": "张三", "legal_rep_id_type": None, "legal_rep_id_no": None, "id_type": None, "id_no": None,
        "source_dept": "市场监督管理局", "source_dept_uscc": "11350100MB0000000X", "remark": None,
        "decision_no": f"闽市监罚〔2025〕{i}号", "violation_type": "虚假宣传", "facts": "事实", "legal_basis": "广告法",
        "penalty_kinds": kinds, "content": "内容", "fine": fine, "confiscated": None, "license_revoked": None,
        "decided_on": decided_on, "valid_to": None, "publicity_until": None, "authority": "市市场监督管理局",
        "authority_uscc": "11350100MB0000000X", "severity": "一般", "domain": "其他",
    }


def build_warehouse(path, catalogue, with_codes=True):
    cat = catalogue.categories["admin_penalty"]
    con = duckdb.connect(str(path))
    for s in ("raw", "audit", "codes"):
        con.execute(f"create schema if not exists {s}")
    d = dt.date
    F1, F2, F3 = "scjg/20251009/admin_penalty.csv", "scjg/20251020/admin_penalty.csv", "scjg/20251020_2/admin_penalty.csv"
    F4, F5 = "sthj/20251015/admin_penalty.csv", "sthj/20251015/行政处罚_补报.csv"
    batches = {F1: ("scjg", "20251009", d(2025, 10, 9)), F2: ("scjg", "20251020", d(2025, 10, 20)),
               F3: ("scjg", "20251020_2", d(2025, 10, 20)), F4: ("sthj", "20251015", d(2025, 10, 15)),
               F5: ("sthj", "20251015", d(2025, 10, 15))}
    raw_rows = []
    spec = [  # file, row, decided_on, kinds, fine, is_current
        (F1, 1, d(2025, 9, 30), "警告;罚款", 2.5, True),
        (F1, 2, d(2025, 9, 26), "警告", None, True),
        (F1, 3, d(2025, 9, 17), "警告", None, True),
        (F1, 4, d(2025, 9, 28), "警告", None, False),
        (F2, 1, d(2025, 9, 28), "警告", None, True),
        (F2, 2, d(2025, 10, 10), "警告", None, True),
        (F4, 1, d(2025, 10, 9), "警告", None, True),
        (F4, 2, d(2025, 9, 30), "警告", None, True),
    ]
    for i, (f, r, dec, kinds, fine, cur) in enumerate(spec):
        row = {"record_id": _rid(f, r), **_penalty_row(i, dec, kinds, fine)}
        dep, batch, bdate = batches[f]
        row.update(source_file=f, source_row=r, department_code=dep, batch=batch, batch_date=bdate,
                   load_id=f"L-{f}", loaded_at=dt.datetime(2025, 10, 21), record_key=f"k{i}" if f != F2 or r != 1 else "k3",
                   is_current=cur, superseded_by=None if cur else _rid(F2, 1), money_suspicious=False)
        raw_rows.append(row)
    raw = pd.DataFrame(raw_rows)
    con.register("raw_df", raw)
    con.execute("create table raw.admin_penalty as select * exclude (loaded_at), loaded_at, []::varchar[] as flags, null::json as extra from raw_df")

    loads = pd.DataFrame([
        dict(load_id=f"L-{F1}", source_file=F1, department_code="scjg", category="admin_penalty", batch="20251009", batch_date=d(2025, 10, 9), sha256="a1", file_format="csv", encoding="utf-8", rows_read=5, rows_loaded=4, rows_rejected=1, rows_duplicate=0, status="loaded", reason=None),
        dict(load_id=f"L-{F2}", source_file=F2, department_code="scjg", category="admin_penalty", batch="20251020", batch_date=d(2025, 10, 20), sha256="a2", file_format="csv", encoding="gb18030", rows_read=3, rows_loaded=2, rows_rejected=1, rows_duplicate=0, status="loaded", reason=None),
        dict(load_id=f"L-{F3}", source_file=F3, department_code="scjg", category="admin_penalty", batch="20251020_2", batch_date=d(2025, 10, 20), sha256="a2", file_format="csv", encoding="gb18030", rows_read=3, rows_loaded=0, rows_rejected=0, rows_duplicate=3, status="duplicate_file", reason="与 scjg/20251020/admin_penalty.csv 内容相同"),
        dict(load_id=f"L-{F4}", source_file=F4, department_code="sthj", category="admin_penalty", batch="20251015", batch_date=d(2025, 10, 15), sha256="b1", file_format="csv", encoding="utf-8-sig", rows_read=2, rows_loaded=2, rows_rejected=0, rows_duplicate=0, status="loaded", reason=None),
        dict(load_id=f"L-{F5}", source_file=F5, department_code="sthj", category="admin_penalty", batch="20251015", batch_date=d(2025, 10, 15), sha256="b2", file_format="csv", encoding="utf-8", rows_read=2, rows_loaded=0, rows_rejected=2, rows_duplicate=0, status="rejected_file", reason="缺少必填列：处罚决定日期"),
    ])
    con.register("loads_df", loads)
    con.execute("""create table audit.loads as select load_id, source_file, department_code, category, batch, batch_date,
        sha256, file_format, encoding, rows_read, rows_loaded, rows_rejected, rows_duplicate, status, reason,
        []::varchar[] as extra_columns, []::varchar[] as flags, null::varchar as archive_path,
        timestamp '2025-10-21 09:00:00' as loaded_at from loads_df""")

    outcomes = [(F1, 1, "loaded"), (F1, 2, "loaded"), (F1, 3, "loaded"), (F1, 4, "superseded"), (F1, 5, "rejected"),
                (F2, 1, "loaded"), (F2, 2, "loaded"), (F2, 3, "rejected"),
                (F3, 1, "duplicate"), (F3, 2, "duplicate"), (F3, 3, "duplicate"),
                (F4, 1, "loaded"), (F4, 2, "loaded"), (F5, 1, "rejected"), (F5, 2, "rejected")]
    ro = pd.DataFrame([dict(source_file=f, source_row=r, category="admin_penalty", department_code=batches[f][0],
                            load_id=f"L-{f}", outcome=o, record_id=_rid(f, r) if o in ("loaded", "superseded") else None)
                       for f, r, o in outcomes])
    con.register("ro_df", ro)
    con.execute("create table audit.row_outcomes as select * from ro_df")

    def raw_json(row: dict) -> str:
        out = {}
        for fld in cat.fields:
            v = row.get(fld.name)
            out[fld.code or fld.label if fld.name.startswith("x") else fld.label] = "" if v is None else str(v)
        return json.dumps(out, ensure_ascii=False)

    r5 = _penalty_row(10, "", "警告、罚款", None)
    r3 = _penalty_row(11, "2025-10-16", "警告", None)
    r3.update(subject_kind="2", uscc=None, legal_rep=None, id_type="身份证", id_no=ID_NO, severity="XX")
    rej = pd.DataFrame([
        dict(source_file=F1, source_row=5, department_code="scjg", category="admin_penalty",
             reasons="处罚决定日期为空；处罚类别含罚款时罚款金额（万元）为空", rule_ids=["required", "required_when"], raw=raw_json(r5)),
        dict(source_file=F2, source_row=3, department_code="scjg", category="admin_penalty",
             reasons=f"失信严重程度“XX”不在取值范围内（当事人证件号码 {ID_NO}）", rule_ids=["enum"], raw=raw_json(r3)),
    ])
    con.register("rej_df", rej)
    con.execute("create table audit.rejected_rows as select source_file, source_row, department_code, category, reasons, rule_ids, raw::json as raw from rej_df")

    if with_codes:
        refs = pd.DataFrame([
            dict(record_id=_rid(F1, 1), category="admin_penalty", department_code="scjg", subject_id=USCC[0], resolved_uscc=USCC[0], status="valid", method=None, confidence=1.0, source_file=F1),
            dict(record_id=_rid(F1, 2), category="admin_penalty", department_code="scjg", subject_id=USCC[1], resolved_uscc=USCC[1], status="valid", method=None, confidence=1.0, source_file=F1),
            dict(record_id=_rid(F1, 3), category="admin_penalty", department_code="scjg", subject_id=USCC[2], resolved_uscc=USCC[2], status="repaired", method="check_digit", confidence=0.9, source_file=F1),
            dict(record_id=_rid(F2, 1), category="admin_penalty", department_code="scjg", subject_id="N0000", resolved_uscc=None, status="unresolved", method=None, confidence=0.0, source_file=F2),
            dict(record_id=_rid(F2, 2), category="admin_penalty", department_code="scjg", subject_id=USCC[5], resolved_uscc=USCC[5], status="valid", method=None, confidence=1.0, source_file=F2),
            dict(record_id=_rid(F4, 1), category="admin_penalty", department_code="sthj", subject_id=USCC[6], resolved_uscc=USCC[6], status="valid", method=None, confidence=1.0, source_file=F4),
            dict(record_id=_rid(F4, 2), category="admin_penalty", department_code="sthj", subject_id=USCC[0], resolved_uscc=USCC[0], status="unknown_subject", method=None, confidence=1.0, source_file=F4),
        ])
        con.register("refs_df", refs)
        con.execute("create table codes.subject_refs as select * from refs_df")
        con.execute("create table audit.code_resolutions (source_file varchar, source_row bigint, field varchar, original_value varchar, resolved_uscc varchar, method varchar, confidence double, status varchar)")
        con.execute(f"create table audit.code_conflicts as select 'duplicate_code' as kind, '{USCC[1]}' as uscc, '测试企业1有限公司' as name, '两个主体使用同一代码' as detail")
    for v in ("raw_df", "loads_df", "ro_df", "rej_df", "refs_df"):
        try:
            con.unregister(v)
        except Exception:
            pass
    con.close()
    return path


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory, catalogue):
    return build_warehouse(tmp_path_factory.mktemp("wh") / "credit.duckdb", catalogue)


@pytest.fixture(scope="session")
def warehouse_no_codes(tmp_path_factory, catalogue):
    return build_warehouse(tmp_path_factory.mktemp("wh2") / "credit.duckdb", catalogue, with_codes=False)
