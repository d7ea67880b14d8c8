"""Each row rule id with its Chinese reason; normalisation of every value form."""

from __future__ import annotations

import datetime as dt

import pytest
from ingest_helpers import KEY, PENALTY, VALID_USCC, csv_bytes, deliver, penalty, query

from pipelines.ingest import ingest_inbox

FINE = "罚款金额（万元）"

CASES = [
    ("required", {"违法事实": ""}, "「违法事实」为必填项"),
    ("required_when", {FINE: ""}, "「罚款金额（万元）」为必填项（处罚类别含「罚款」时）"),
    (
        "required_when",
        {"统一社会信用代码": ""},
        "「统一社会信用代码」为必填项（行政相对人类别为「法人及非法人组织」时，且未填写「工商注册号」、「组织机构代码」）",
    ),
    ("enum", {"处罚类别": "警告;罚没"}, "「处罚类别」的值不在代码表中：警告;罚没"),
    ("enum", {"失信严重程度": "很严重"}, "「失信严重程度」的值不在代码表中：很严重"),
    ("date_format", {"处罚决定日期": "2026-02-30"}, "「处罚决定日期」不是有效日期：2026-02-30"),
    ("date_format", {"处罚决定日期": "去年"}, "「处罚决定日期」不是有效日期：去年"),
    ("date_future", {"处罚决定日期": "2024-03-11"}, "「处罚决定日期」晚于报送日期（2024-03-10）：2024-03-11"),
    ("date_order", {"公示截止期": "2024-03-01"}, "「公示截止期」早于「处罚决定日期」：2024-03-01 早于 2024-03-05"),
    ("date_range", {"处罚决定日期": "1024-03-05"}, "「处罚决定日期」早于最早允许日期（1949-10-01）：1024-03-05"),
    ("number_format", {FINE: "一万"}, "「罚款金额（万元）」不是有效数字：一万"),
    ("min", {FINE: "-5"}, "「罚款金额（万元）」小于最小值 0：-5"),
    (
        "code_invalid",
        {"数据来源单位统一社会信用代码": "91350100M000100Y4X"},
        "「数据来源单位统一社会信用代码」不是有效的代码：91350100M000100Y4X",
    ),
]


@pytest.fixture
def loaded(paths, catalogue):
    rows = [penalty(0)] + [penalty(i + 1, **ov) for i, (_, ov, _) in enumerate(CASES)]
    rows.append(penalty(99, 违法事实="", 处罚决定日期="2026-02-30"))
    headers = [*PENALTY, "失信严重程度", "公示截止期"]
    deliver(paths, "scjg/20240310/admin_penalty.csv", csv_bytes(rows, headers=headers))
    ingest_inbox(paths, catalogue, key=KEY)
    return query(paths, "select source_row, reasons, rule_ids from audit.rejected_rows order by source_row")


def test_each_rule_has_its_id_and_chinese_reason(loaded):
    got = {r["source_row"]: (r["rule_ids"], r["reasons"]) for r in loaded.to_dicts()}
    assert 1 not in got  # the clean row
    for i, (rule, _, reason) in enumerate(CASES):
        assert got[i + 2] == ([rule], reason), (rule, got.get(i + 2))


def test_several_failures_are_all_reported(loaded):
    last = loaded.filter(loaded["source_row"] == len(CASES) + 2).to_dicts()[0]
    assert last["rule_ids"] == ["required", "date_format"]
    assert last["reasons"] == "「违法事实」为必填项；「处罚决定日期」不是有效日期：2026-02-30"


def _tax(**ov: str) -> dict[str, str]:
    row = {
        "行政相对人名称": "福州某某贸易有限公司",
        "行政相对人类别": "法人及非法人组织",
        "统一社会信用代码": "91110000600037341L",
        "法定代表人": "张三",
        "评价年度": "2025",
        "纳税信用级别": "A",
        "数据来源单位": "税务局",
        "数据来源单位统一社会信用代码": VALID_USCC,
    }
    row.update(ov)
    return row


def test_max_current_year_subject_kind_and_int(paths, catalogue):
    rows = [
        _tax(),
        _tax(评价年度="2027"),
        _tax(评价年度="2013"),
        _tax(评价年度="2025.5"),
        _tax(行政相对人类别="自然人", 统一社会信用代码="", 证件类型="身份证", 证件号码="360426199101010071"),
        _tax(行政相对人类别="2", 证件类型="身份证", 证件号码="360426199101010071"),
    ]
    deliver(paths, "swj/2026-01-15_2/纳税信用评价.csv", csv_bytes(rows, headers=list(rows[4])))
    ingest_inbox(paths, catalogue, key=KEY)
    rej = query(paths, "select source_row, rule_ids, reasons from audit.rejected_rows order by 1").to_dicts()
    assert [(r["source_row"], r["rule_ids"]) for r in rej] == [
        (2, ["max"]), (3, ["min"]), (4, ["number_format"]), (5, ["subject_kind"]), (6, ["subject_kind"])
    ]
    assert rej[0]["reasons"] == "「评价年度」大于最大值 2026：2027"
    assert rej[3]["reasons"].startswith("「行政相对人类别」不适用于纳税信用评价")
    raw = query(paths, "select year, batch, batch_date from raw.tax_credit_rating")
    assert raw.row(0) == (2025, "2026-01-15_2", dt.date(2026, 1, 15))


@pytest.mark.parametrize(
    "text",
    ["2024-03-05", "2024/3/5", "2024.03.05", "2024年3月5日", "20240305", "45356", "2024-03-05 00:00:00",
     "２０２４－０３－０５", " 2024/03/05 "],
)
def test_date_forms(paths, catalogue, text):
    deliver(paths, "scjg/20240310/admin_penalty.csv", csv_bytes([penalty(1, 处罚决定日期=text)]))
    rep = ingest_inbox(paths, catalogue, key=KEY)
    assert rep.files[0].rows_loaded == 1
    assert query(paths, "select decided_on from raw.admin_penalty")["decided_on"][0] == dt.date(2024, 3, 5)


def test_value_normalisation_enums_money_personal_and_flags(paths, catalogue):
    rows = [
        penalty(1, 处罚类别="罚款、警告", 领域="", **{"行政相对人名称": "  福州ＡＢＣ贸易有限公司　", FINE: "1,200.5"}),
        penalty(2, 处罚类别="警告，没收违法所得 , 罚款", 行政相对人类别="1", **{FINE: "250000"}),
        penalty(3, 行政相对人类别="自然人", 统一社会信用代码="", 证件类型="身份证", 证件号码="360426199101010071",
                法定代表人="", 处罚类别="警告"),
    ]
    # swj does not register admin_penalty? it does; use zjj for honor-like flag below
    deliver(paths, "fy/20240310/admin_penalty.csv", csv_bytes(rows, headers=list(rows[2])))
    rep = ingest_inbox(paths, catalogue, key=KEY)
    assert rep.files[0].rows_loaded == 3, rep
    raw = query(
        paths,
        "select subject_name, subject_kind, penalty_kinds, fine, domain, money_suspicious, flags, "
        "id_no, id_no_hash, id_no_masked from raw.admin_penalty order by source_row",
    ).to_dicts()
    assert raw[0]["subject_name"] == "福州ABC贸易有限公司"
    assert raw[0]["penalty_kinds"] == "警告;罚款" and raw[0]["fine"] == 1200.5 and raw[0]["domain"] == "其他"
    assert raw[1]["subject_kind"] == "法人及非法人组织"
    assert raw[1]["penalty_kinds"] == "警告;罚款;没收违法所得"
    assert raw[1]["money_suspicious"] is True and not raw[0]["money_suspicious"]
    assert any("超过 100000 万元" in f for f in raw[1]["flags"])
    not_registered = [f for f in raw[0]["flags"] if "未登记报送" in f]
    assert not_registered == ["中级人民法院（fy）未登记报送「行政处罚」"]
    assert raw[2]["id_no_masked"] == "3604**********0071"
    assert len(raw[2]["id_no_hash"]) == 64 and raw[2]["id_no_hash"] != raw[2]["id_no"]
    from pipelines.codes.privacy import keyed_hash

    assert raw[2]["id_no_hash"] == keyed_hash("360426199101010071", KEY)
    loads = query(paths, "select status, flags from audit.loads").to_dicts()[0]
    assert loads["status"] == "loaded" and "中级人民法院（fy）未登记报送「行政处罚」" in loads["flags"]
