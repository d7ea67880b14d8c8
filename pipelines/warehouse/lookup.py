"""`credit lookup CODE` (逢办必查): what a service window checks before granting anything.

    from pipelines.warehouse.lookup import lookup, format_lookup
    with duckdb.connect(str(Paths.from_env().warehouse), read_only=True) as con:
        print(format_lookup(lookup(con, "91130100MA0000002X")))

``lookup(con, query, as_of=None)`` finds the subject by USCC / subject_id, legacy code
(工商注册号, 组织机构代码 with or without hyphen) or name (exact, then unique partial
match), and returns a dict:

* ``found`` (bool), ``query``, ``candidates`` (list of {subject_id, uscc, name} when the
  query is ambiguous or not found by code), ``error`` (text, when not found);
* ``subject``: marts.subjects row (no personal full values);
* ``grade``: {as_of, score, grade, grade_reason, model_version} — the evaluation at
  ``as_of`` or the latest one;
* ``top_indicators``: the indicators contributing most (|points|), with dimension;
* ``active_records``: records active at the date (category, 文书号, decided_on,
  severity, publicity_until, under_objection, department_code);
* ``sanctions``: list-based measures that apply (active listing not under objection,
  registration status 吊销), each with its reason; ``suspended``: listings whose
  measures are suspended by an objection in progress.

Reads only ``marts.*``, ``codes.subjects`` (legacy codes) and ``config.grade_overrides``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..textnorm import normalize_name, to_half_width

CATEGORY_NAMES = {
    "admin_license": "行政许可", "admin_penalty": "行政处罚", "dishonest_debtor": "失信被执行人",
    "serious_dishonesty_list": "严重失信主体名单", "abnormal_operation": "经营异常名录",
    "credit_commitment": "信用承诺", "honor": "诚实守信相关荣誉", "inspection": "行政检查",
    "tax_credit_rating": "纳税信用评价",
}
GRADE_NAMES = {"A": "信用风险低", "B": "信用风险一般", "C": "信用风险较高", "D": "信用风险高"}


def _rows(con: Any, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _table_exists(con: Any, schema: str, table: str) -> bool:
    return bool(con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table]).fetchone()[0])


def find_subjects(con: Any, query: str) -> tuple[list[dict[str, Any]], str]:
    """Subjects matching the query, and how they matched (code / legacy / name / partial)."""
    q = to_half_width(query or "").strip()
    code = q.upper().replace("-", "").replace(" ", "")
    cols = "subject_id, uscc, name, subject_kind"
    hits = _rows(con, f"select {cols} from marts.subjects where subject_id = ? or uscc = ?", [code, code])
    if hits:
        return hits, "code"
    if _table_exists(con, "codes", "subjects"):
        hits = _rows(con, f"""select {cols} from marts.subjects where subject_id in (
                select subject_id from codes.subjects
                where reg_no = ? or replace(org_code, '-', '') = ?)""", [code, code])
        if hits:
            return hits, "legacy"
    name = normalize_name(q) or q
    hits = _rows(con, f"select {cols} from marts.subjects where name = ? or name = ? order by subject_id",
                 [q, name])
    if hits:
        return hits, "name"
    if len(q) >= 2:
        hits = _rows(con, f"select {cols} from marts.subjects where name like ? order by name limit 20",
                     [f"%{q}%"])
        return hits, "partial"
    return [], "none"


def lookup(con: Any, query: str, as_of: str | dt.date | None = None) -> dict[str, Any]:
    """Everything a service window needs about one subject (see module doc)."""
    result: dict[str, Any] = {"query": query, "found": False, "candidates": [], "subject": None,
                              "grade": None, "top_indicators": [], "active_records": [],
                              "sanctions": [], "suspended": []}
    hits, how = find_subjects(con, query)
    if len(hits) != 1:
        result["candidates"] = hits
        result["error"] = "未找到该主体" if not hits else f"匹配到 {len(hits)} 个主体，请使用统一社会信用代码查询"
        return result
    sid = hits[0]["subject_id"]
    result["found"] = True
    result["matched_by"] = how
    subj = _rows(con, "select * from marts.subjects where subject_id = ?", [sid])[0]
    result["subject"] = subj

    if as_of is not None:
        grade = _rows(con, """select as_of, score, grade, grade_reason, model_version
                              from marts.credit_grades where subject_id = ? and as_of <= ?
                              order by as_of desc limit 1""", [sid, str(as_of)])
    else:
        grade = _rows(con, """select as_of, score, grade, grade_reason, model_version
                              from marts.credit_grades where subject_id = ?
                              order by as_of desc limit 1""", [sid])
    if grade:
        g = grade[0]
        result["grade"] = g
        result["top_indicators"] = _rows(con, """
            select dimension, indicator, indicator_name, value, points
            from marts.score_components
            where subject_id = ? and as_of = ? and indicator not in ('_base', '_bound') and points <> 0
            order by abs(points) desc, indicator limit 5""", [sid, g["as_of"]])

    records = _rows(con, """
        select record_id, category, record_no, decided_on, severity, publicity_until, removed_on,
               under_objection, is_public, department_code, record_state, attribute, as_of
        from marts.credit_records
        where subject_id = ? and is_active
        order by decided_on desc, record_id""", [sid])
    result["active_records"] = records
    result["records_as_of"] = records[0]["as_of"] if records else subj.get("as_of")

    overrides: list[dict[str, Any]] = []
    if _table_exists(con, "config", "grade_overrides"):
        mv = result["grade"]["model_version"] if result["grade"] else None
        overrides = _rows(con, """select override, precedence, trigger, trigger_value, grade, reason
                                  from config.grade_overrides
                                  where model_version = coalesce(?, model_version)
                                  order by precedence""", [mv])
    for o in overrides:
        if o["trigger"] == "active_listing":
            for r in records:
                if r["category"] != o["trigger_value"]:
                    continue
                item = {"reason": o["reason"], "grade_cap": o["grade"], "category": r["category"],
                        "record_no": r["record_no"], "decided_on": r["decided_on"],
                        "record_id": r["record_id"]}
                (result["suspended"] if r["under_objection"] else result["sanctions"]).append(item)
        elif o["trigger"] == "registration_status" and subj.get("status") == o["trigger_value"]:
            result["sanctions"].append({"reason": o["reason"], "grade_cap": o["grade"],
                                        "category": "registration", "record_no": None,
                                        "decided_on": None, "record_id": None})
    return result


def _d(v: Any) -> str:
    return v.isoformat() if isinstance(v, dt.date) else ("—" if v is None else str(v))


def _num(v: Any) -> str:
    if v is None:
        return "—"
    f = float(v)
    return str(int(f)) if f == int(f) else f"{f:g}"


def format_lookup(result: dict[str, Any]) -> str:
    """The lookup as Chinese text for a terminal / service window."""
    lines: list[str] = []
    if not result.get("found"):
        lines.append(f"查询“{result.get('query')}”：{result.get('error', '未找到该主体')}")
        for c in result.get("candidates", [])[:20]:
            lines.append(f"  - {c['name']}（{c.get('uscc') or c['subject_id']}）")
        return "\n".join(lines)
    s = result["subject"]
    lines.append(f"主体：{s['name']}")
    lines.append(f"  统一社会信用代码：{s.get('uscc') or '—'}    主体编号：{s['subject_id']}")
    lines.append(f"  主体类别：{s.get('subject_kind') or '—'}    登记状态：{s.get('status') or '—'}"
                 f"    成立日期：{_d(s.get('established_on'))}")
    g = result.get("grade")
    if g:
        lines.append(f"信用等级：{g['grade']}（{GRADE_NAMES.get(g['grade'], '')}）    综合评分：{g['score']}"
                     f"    评价日期：{_d(g['as_of'])}    模型版本：{g['model_version']}")
        lines.append(f"  等级依据：{g['grade_reason']}")
    else:
        lines.append("信用等级：暂无评价结果")
    if result.get("top_indicators"):
        lines.append("主要评分因素：")
        for t in result["top_indicators"]:
            sign = "+" if t["points"] > 0 else ""
            lines.append(f"  - [{t['dimension']}] {t['indicator_name']}：{sign}{_num(t['points'])} 分"
                         f"（值 {_num(t['value'])}）")
    sanctions = result.get("sanctions", [])
    lines.append("适用的失信惩戒措施：" + ("无" if not sanctions else ""))
    for x in sanctions:
        ref = f"（文书号 {x['record_no']}，{_d(x['decided_on'])}）" if x.get("record_no") else ""
        lines.append(f"  ! {x['reason']}{ref}：等级最高为 {x['grade_cap']}，办理事项时依法审慎审查")
    for x in result.get("suspended", []):
        lines.append(f"  ? {CATEGORY_NAMES.get(x['category'], x['category'])}（文书号 {x['record_no'] or '—'}）"
                     "异议处理中：信息核实期间暂不执行联合惩戒措施")
    records = result.get("active_records", [])
    lines.append(f"有效信用记录（截至 {_d(result.get('records_as_of'))}）：{len(records)} 条")
    for r in records[:30]:
        extra = []
        if r.get("severity"):
            extra.append(r["severity"])
        if r.get("attribute") and r["attribute"] != r.get("severity"):
            extra.append(str(r["attribute"]))
        if r.get("publicity_until"):
            extra.append(f"公示至 {_d(r['publicity_until'])}")
        if r.get("under_objection"):
            extra.append("异议处理中")
        if not r.get("is_public"):
            extra.append("不公示")
        lines.append(f"  - {CATEGORY_NAMES.get(r['category'], r['category'])} {r.get('record_no') or ''}"
                     f" {_d(r['decided_on'])} {'；'.join(extra)}".rstrip())
    if len(records) > 30:
        lines.append(f"  …… 另有 {len(records) - 30} 条")
    return "\n".join(lines)


__all__ = ["lookup", "format_lookup", "find_subjects"]
