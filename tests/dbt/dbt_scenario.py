"""The policy scenario the dbt tests run on: a few named subjects, each exercising one
rule, plus filler subjects so the marts are not trivially small."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from dbt_warehouse_fixture import TinyWarehouse

D = dt.date
AS_OF = "2026-06-30"
PAST_AS_OF = "2025-06-30"


def _uscc(n: int) -> str:
    return f"91130100MA{n:07d}X"[:18]


NAMED = {
    "clean": _uscc(1),          # old, A tax, honours -> A
    "serious": _uscc(2),        # active serious-list entry -> D
    "repaired": _uscc(3),       # serious list repaired 2026-03-01 -> not D by it
    "objected": _uscc(4),       # serious list under objection (处理中) -> no list override
    "expired": _uscc(5),        # penalty past its window
    "abnormal": _uscc(6),       # active abnormal-operation entry -> at most C
    "revoked": _uscc(7),        # registration status 吊销 -> D
    "both": _uscc(8),           # debtor + serious list -> D, reason serious list (precedence)
    "late": _uscc(9),           # listed 2026-01 -> not at PAST_AS_OF
    "corrected": _uscc(10),     # penalty re-delivered with another severity
    "withdrawn": _uscc(11),     # penalty objected, closed 撤销
    "food": _uscc(12),          # minor penalty in 食品: domain minimum 1 year
    "warning": _uscc(13),       # 警告 only: not published
    "objection_ok": _uscc(14),  # objection closed 信息无误 -> override applies again
    "abnormal_rep": _uscc(15),  # abnormal listing repaired (no document number)
}
PERSON = "P" + "0" * 15 + "1"


def build(path: Path, fillers: int = 120, seed: int = 7) -> TinyWarehouse:
    w = TinyWarehouse(path)
    for key, sid in NAMED.items():
        w.subject(sid, f"测试{key}有限公司", established_on=D(2010, 5, 1), registered_capital=2000.0,
                  status="吊销" if key == "revoked" else "存续")
    w.subject(PERSON, "张三", kind="自然人", established_on=None, registered_capital=None,
              status=None, entity_type=None)
    # registration deliveries (the register); 'revoked' was 存续 until a 2026 delivery
    for key, sid in NAMED.items():
        w.add("registration", sid, "20240105", uscc=sid, name=f"测试{key}有限公司",
              established_on=D(2010, 5, 1), registered_capital=2000.0, status="存续",
              source_dept="市场监督管理局", source_dept_uscc=_uscc(999))
    w.add("registration", NAMED["revoked"], "20260110", uscc=NAMED["revoked"],
          name="测试revoked有限公司", established_on=D(2010, 5, 1), registered_capital=2000.0,
          status="吊销", source_dept="市场监督管理局", source_dept_uscc=_uscc(999))

    src = {"source_dept": "测试部门", "source_dept_uscc": _uscc(999)}
    # clean: A tax rating, a provincial honour, clean inspections
    w.add("tax_credit_rating", NAMED["clean"], "20250420", "swj", year=2024, rating="A", **src)
    w.add("honor", NAMED["clean"], "20250601", "fgw", honor_name="守合同重信用企业", level="省级",
          granted_by="省市场监管局", granted_on=D(2025, 5, 20), **src)
    w.add("honor", NAMED["clean"], "20250601", "fgw", honor_name="诚信示范企业", level="市级",
          granted_by="市政府", granted_on=D(2025, 5, 21), **src)
    w.add("inspection", NAMED["clean"], "20250301", inspection_no="JC-1", inspected_on=D(2025, 2, 1),
          inspected_by="市场监督管理局", result="未发现问题", **src)

    def listing(key: str, decision_no: str, listed_on: D, batch: str, **kw):
        return w.add("serious_dishonesty_list", NAMED[key], batch, "fgw", list_name="严重失信主体名单",
                     decision_no=decision_no, listed_by="发改委", basis="依据", reason="原因",
                     listed_on=listed_on, **src, **kw)

    listing("serious", "SX-2", D(2025, 3, 1), "20250305")
    listing("repaired", "SX-3", D(2025, 3, 1), "20250305")
    w.add("credit_repair", NAMED["repaired"], "20260305", "fgw", repaired_category="serious_dishonesty_list",
          repaired_record_no="SX-3", repair_way="移出名单", repaired_on=D(2026, 3, 1), decided_by="发改委", **src)
    listing("objected", "SX-4", D(2025, 3, 1), "20250305")
    w.add("objection", NAMED["objected"], "20260205", "fgw", objection_no="YY-4",
          objected_category="serious_dishonesty_list", objected_record_no="SX-4",
          raised_on=D(2026, 2, 1), status="处理中", **src)
    listing("objection_ok", "SX-14", D(2025, 3, 1), "20250305")
    w.add("objection", NAMED["objection_ok"], "20260205", "fgw", objection_no="YY-14",
          objected_category="serious_dishonesty_list", objected_record_no="SX-14",
          raised_on=D(2026, 2, 1), status="处理中", **src)
    w.add("objection", NAMED["objection_ok"], "20260405", "fgw", objection_no="YY-14",
          objected_category="serious_dishonesty_list", objected_record_no="SX-14",
          raised_on=D(2026, 2, 1), status="已办结", outcome="信息无误", closed_on=D(2026, 4, 1), **src)
    listing("both", "SX-8", D(2025, 3, 1), "20250305")
    w.add("dishonest_debtor", NAMED["both"], "20250305", "fy", case_no="(2025)冀01执1号", court="中院",
          filed_on=D(2025, 1, 1), published_on=D(2025, 2, 1), behaviour="有履行能力而拒不履行", **src)
    listing("late", "SX-9", D(2026, 1, 10), "20260115")

    def penalty(key: str, decision_no: str, decided_on: D, batch: str, kinds: str, fine=None, **kw):
        return w.add("admin_penalty", NAMED[key] if key in NAMED else key, batch, decision_no=decision_no,
                     violation_type="违法", facts="事实", legal_basis="依据", penalty_kinds=kinds,
                     content="内容", fine=fine, decided_on=decided_on, authority="市场监督管理局",
                     authority_uscc=_uscc(998), **src, **kw)

    penalty("expired", "CF-5", D(2024, 1, 10), "20240115", "罚款", fine=5.0)        # 一般: to 2025-01-09
    penalty("corrected", "CF-10", D(2025, 3, 1), "20250305", "罚款", fine=5.0)      # 一般
    penalty("corrected", "CF-10", D(2025, 3, 1), "20260201", "罚款;吊销许可证件", fine=5.0)  # 严重
    penalty("withdrawn", "CF-11", D(2026, 1, 5), "20260110", "罚款", fine=20.0)
    w.add("objection", NAMED["withdrawn"], "20260305", "fgw", objection_no="YY-11",
          objected_category="admin_penalty", objected_record_no="CF-11", raised_on=D(2026, 2, 1),
          status="已办结", outcome="撤销", closed_on=D(2026, 3, 1), **src)
    penalty("food", "CF-12", D(2026, 1, 5), "20260110", "警告;罚款", fine=0.5, domain="食品")
    penalty("warning", "CF-13", D(2026, 5, 5), "20260510", "警告")
    penalty(PERSON, "CF-P", D(2026, 2, 1), "20260205", "罚款", fine=2.0, subject_kind="自然人",
            subject_name="张三", id_type="身份证")

    w.add("abnormal_operation", NAMED["abnormal"], "20250305", reason="未按规定公示年度报告",
          listed_on=D(2025, 3, 1), decided_by="市场监督管理局", **src)
    w.add("abnormal_operation", NAMED["abnormal_rep"], "20250305", reason="未按规定公示年度报告",
          listed_on=D(2025, 3, 1), decided_by="市场监督管理局", **src)
    w.add("credit_repair", NAMED["abnormal_rep"], "20260305", "fgw", repaired_category="abnormal_operation",
          repaired_record_no="无", repair_way="移出名单", repaired_on=D(2026, 3, 1), decided_by="市场监督管理局", **src)
    # 'abnormal' also gets a good score so that the cap is what sets C
    w.add("tax_credit_rating", NAMED["abnormal"], "20250420", "swj", year=2024, rating="A", **src)
    w.add("honor", NAMED["abnormal"], "20250601", "fgw", honor_name="守合同重信用企业", level="国家级",
          granted_by="总局", granted_on=D(2025, 5, 20), **src)
    w.add("honor", NAMED["abnormal"], "20250601", "fgw", honor_name="诚信示范企业", level="省级",
          granted_by="省政府", granted_on=D(2025, 5, 21), **src)

    rng = random.Random(seed)
    for i in range(fillers):
        sid = _uscc(1000 + i)
        kind = "个体工商户" if i % 10 == 0 else "法人及非法人组织"
        w.subject(sid, f"填充{i}公司", kind=kind, established_on=D(2000 + rng.randrange(25), 1 + rng.randrange(12), 1),
                  registered_capital=float(rng.choice([10, 50, 200, 1500, 8000])))
        if rng.random() < 0.3:
            penalty(sid, f"CF-F{i}", D(2025, 1 + rng.randrange(12), 1 + rng.randrange(27)), "20260105",
                    rng.choice(["警告", "罚款", "罚款;没收违法所得", "责令停产停业"]), fine=float(rng.choice([0.2, 3, 50, 150])),
                    domain=rng.choice(["食品", "其他", "消防"]))
        if rng.random() < 0.3:
            w.add("tax_credit_rating", sid, "20250420", "swj", year=2024, rating=rng.choice("ABMCD"), **src)
        if rng.random() < 0.2:
            w.add("inspection", sid, "20250901", inspection_no=f"JC-F{i}", inspected_on=D(2025, 8, 1),
                  inspected_by="市场监督管理局",
                  result=rng.choice(["未发现问题", "发现问题已责令改正", "发现问题待后续处理"]), **src)
        if rng.random() < 0.05:
            w.add("abnormal_operation", sid, "20250305", reason="其他", listed_on=D(2025, 3, 1),
                  decided_by="市场监督管理局", **src)
    w.write()
    return w
