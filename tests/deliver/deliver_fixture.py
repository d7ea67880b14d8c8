"""A tiny warehouse for the sampling / delivery tests, built with the dbt engineer's
``tests.dbt.warehouse_fixture.TinyWarehouse`` (raw.* + codes.*), then graded and drawn
by dbt (``build_marts``) — or, for the pure-Python tests, a hand-made ``marts`` layer
(``fake_marts``) so they run in a second without dbt."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dbt"))
from dbt_warehouse_fixture import TinyWarehouse  # noqa: E402  (the dbt engineer's fixture)

D = dt.date
AS_OF = "2026-11-30"          # period 2026-Q4 (quarterly)
PROJECT = Path(__file__).resolve().parents[2]
SRC = {"source_dept": "测试部门", "source_dept_uscc": "91130100MA0009999X"}


def uscc(n: int) -> str:
    return f"91130100MA{n:07d}X"[:18]


def build_raw(path: Path, n: int = 40) -> TinyWarehouse:
    """Subjects in two regions, some in chemicals (sthj scope by industry), some with a
    sthj permit, some inspected last year, a 注销 one; rosters for scjg and sthj."""
    w = TinyWarehouse(path)
    for i in range(n):
        sid = uscc(100 + i)
        w.subject(sid, f"样本{i}有限公司",
                  region_code="130102" if i % 2 else "130104",
                  industry_code="C2611" if i % 5 == 0 else "F5123",
                  status="注销" if i == 7 else ("在业" if i % 3 == 0 else "存续"),
                  established_on=D(2005 + i % 15, 1, 1), registered_capital=float(100 + 50 * i))
        if i % 4 == 1:
            w.add("admin_license", sid, "20260305", "sthj", decision_doc_name="排污许可决定书",
                  decision_no=f"XK-{i}", content="排污许可", decided_on=D(2026, 3, 1),
                  valid_from=D(2026, 3, 1), valid_to=D(2029, 2, 28), authority="生态环境局",
                  authority_uscc=uscc(998), state="有效", **SRC)
        if i % 6 == 2:  # inspected within the 12 months before 2026-10-01
            w.add("inspection", sid, "20260505", "scjg", inspection_no=f"JC-{i}",
                  inspected_on=D(2026, 5, 1), inspected_by="市场监督管理局", result="未发现问题", **SRC)
        if i % 9 == 4:  # penalised: lower grades
            w.add("admin_penalty", sid, "20260605", "sthj", decision_no=f"CF-{i}", violation_type="违法",
                  facts="事实", legal_basis="依据", penalty_kinds="罚款;责令停产停业", content="内容",
                  fine=150.0, decided_on=D(2026, 6, 1), authority="生态环境局",
                  authority_uscc=uscc(998), **SRC)
    for dept, k in (("scjg", 5), ("sthj", 3)):
        for j in range(k):
            w.add("inspector", None, "20260105", dept, badge_no=f"{dept.upper()}-{j:03d}",
                  name=f"{dept}检查员{j}", region_code="130102" if j % 3 == 0 else "130104",
                  field="综合", active="离岗" if j == k - 1 else "在岗", **SRC)
    w.write()
    return w


def run_dbt(data_dir: Path, args: list[str], as_of: str = AS_OF) -> None:
    from dbt.cli.main import dbtRunner

    old = os.environ.get("CREDIT_DATA_DIR")
    os.environ["CREDIT_DATA_DIR"] = str(data_dir)
    try:
        project = PROJECT / "dbt_project"
        res = dbtRunner().invoke(args + [
            "--project-dir", str(project), "--profiles-dir", str(project),
            "--target-path", str(data_dir / "dbt_target"), "--log-path", str(data_dir / "dbt_logs"),
            "--vars", f"{{as_of: '{as_of}'}}", "--quiet"])
    finally:
        if old is None:
            os.environ.pop("CREDIT_DATA_DIR", None)
        else:
            os.environ["CREDIT_DATA_DIR"] = old
    if not res.success:
        failed = [f"{r.node.name}: {r.message}" for r in getattr(res.result, "results", None) or []
                  if str(r.status) not in ("success", "pass", "skipped", "warn")]
        raise AssertionError(f"dbt {' '.join(args)} failed: {res.exception or failed}")


def build_marts(data_dir: Path, as_of: str = AS_OF) -> Path:
    path = data_dir / "warehouse" / "credit.duckdb"
    build_raw(path)
    run_dbt(data_dir, ["build", "--select",
                       "+sampling_plan +inspection_draw +sampling_candidates +sampling_roster",
                       "--exclude", "test_type:unit", "--indirect-selection", "cautious"], as_of)
    return path


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path))


# -- a hand-made marts layer for the pure-Python tests ---------------------------------

FAKE_PERIOD = "2026-Q4"
OTHER_SEED = "0123456789abcdef0123456789abcdef"
RATIOS = {"A": ("0.03", 0, 1), "B": ("0.10", 0, 1), "C": ("0.30", 1, 2), "D": ("0.80", 1, None)}
DOC = PROJECT / "docs" / "sampling.md"


def id_number(first17: str) -> str:
    """A valid 居民身份证号 from its first 17 digits (GB 11643 check character)."""
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return first17 + "10X98765432"[sum(int(c) * x for c, x in zip(first17, w, strict=True)) % 11]


PERSON_ID = id_number("11010119900307001")
TRICKY_NAMES = {
    3: '=HYPERLINK("http://evil.example","点我")',
    4: "+86-311 公司",
    5: "@SUM(A1:A9)",
    6: "-2+3 公司",
    7: "\t制表符公司",
    8: f"个体户张三（{PERSON_ID}）",
}


def doc_recipe_blocks() -> list[str]:
    """The ```sql recipe blocks of docs/sampling.md, in order."""
    text = DOC.read_text(encoding="utf-8")
    blocks, cur = [], None
    for line in text.splitlines():
        if cur is None and line.strip() == "```sql recipe":
            cur = []
        elif cur is not None and line.strip() == "```":
            blocks.append("\n".join(cur))
            cur = None
        elif cur is not None:
            cur.append(line)
    return blocks


def fake_subjects(n: int = 30) -> list[dict]:
    grades = "AABBBBBBBBBBCCCCCCDDD"
    out = []
    for i in range(n):
        out.append({
            "subject_id": uscc(500 + i), "uscc": uscc(500 + i),
            "name": TRICKY_NAMES.get(i, f"测试{i}有限公司"),
            "subject_kind": "法人及非法人组织", "region_code": "130102" if i % 2 else "130104",
            "industry_code": "C2611", "status": "注销" if i == 2 else "存续",
            "grade": grades[i % len(grades)], "score": 600.0 + 13.25 * i,
            "inspections_in_window": 1 if i % 7 == 1 else 0,
        })
    return out


def fake_marts(path: Path, subjects: list[dict] | None = None, seed: str | None = None,
               roster: list[tuple[str, str, str]] | None = None, as_of: str = AS_OF,
               department: str = "scjg") -> Path:
    """marts.credit_grades / sampling_candidates / sampling_plan / sampling_roster /
    inspection_draw for one department, the draw computed with the SQL recipe of
    docs/sampling.md."""
    from pipelines.deliver import recipe, redraw

    seed = seed or redraw.catalogue_seed(FAKE_PERIOD)
    subjects = subjects if subjects is not None else fake_subjects()
    roster = roster if roster is not None else [
        ("SC-001", "王一", "130102"), ("SC-002", "李二", "130104"),
        ("SC-003", "赵三", "130102"), ("SC-004", "钱四", "130104")]
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema if not exists marts")
        con.execute("""create or replace table marts.credit_grades (subject_id varchar, as_of date,
            score double, grade varchar, grade_reason varchar, model_version varchar)""")
        con.execute("""create or replace table marts.sampling_candidates (department_code varchar,
            period varchar, as_of date, subject_id varchar, uscc varchar, name varchar,
            subject_kind varchar, region_code varchar, industry_code varchar, status varchar,
            grade varchar, score double, scope_rules varchar, inspections_in_window bigint,
            max_inspections_per_window integer, draws boolean, in_pool boolean,
            is_eligible boolean, exclusion_reason varchar, draw_key varchar, seed varchar)""")
        for s in subjects:
            con.execute("insert into marts.credit_grades values (?, ?, ?, ?, ?, ?)",
                        [s["subject_id"], as_of, s["score"], s["grade"], "得分分级", "v1"])
            ratio, minimum, max_n = RATIOS[s["grade"]]
            in_pool = s["status"] in ("存续", "在业")
            eligible = in_pool and (max_n is None or s["inspections_in_window"] < max_n)
            reason = None if eligible else ("登记状态注销" if not in_pool else "近12个月已检查")
            con.execute("insert into marts.sampling_candidates values "
                        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [department, FAKE_PERIOD, as_of, s["subject_id"], s["uscc"], s["name"],
                         s["subject_kind"], s["region_code"], s["industry_code"], s["status"],
                         s["grade"], s["score"], "all", s["inspections_in_window"], max_n, True,
                         in_pool, eligible, reason,
                         recipe.draw_key(seed, FAKE_PERIOD, department, s["subject_id"]), seed])
        con.execute(f"""create or replace table marts.sampling_plan as
            select department_code, period, grade,
                   count(*) filter (where in_pool) as population,
                   cast(null as decimal(9,4)) as ratio, cast(0 as bigint) as sample_size,
                   count(*) filter (where is_eligible) as eligible,
                   cast(0 as bigint) as excluded_by_frequency,
                   cast(0 as integer) as minimum_per_stratum,
                   cast(null as integer) as max_inspections_per_window,
                   cast('{as_of}' as date) as as_of, '{seed}' as seed
            from marts.sampling_candidates group by all""")
        for g, (ratio, minimum, max_n) in RATIOS.items():
            con.execute("""update marts.sampling_plan set ratio = cast(? as decimal(9,4)),
                minimum_per_stratum = ?, max_inspections_per_window = ?,
                excluded_by_frequency = population - eligible where grade = ?""",
                        [ratio, minimum, max_n, g])
        for g, pop, elig, ratio, minimum in con.execute(
                "select grade, population, eligible, cast(ratio as varchar), minimum_per_stratum "
                "from marts.sampling_plan").fetchall():
            con.execute("update marts.sampling_plan set sample_size = ? where grade = ?",
                        [recipe.sample_size(pop, elig, ratio, minimum), g])
        con.execute("""create or replace table marts.sampling_roster (department_code varchar,
            period varchar, as_of date, badge_no varchar, region_code varchar, name_hash varchar,
            record_id varchar)""")
        for badge, _name, region in roster:
            con.execute("insert into marts.sampling_roster values (?, ?, ?, ?, ?, null, null)",
                        [department, FAKE_PERIOD, as_of, badge, region])
        # the draw: the SQL recipe of docs/sampling.md
        con.execute(f"set variable seed = '{seed}'")
        con.execute(f"set variable period = '{FAKE_PERIOD}'")
        con.execute(f"set variable dept = '{department}'")
        con.execute("""create or replace temp table candidates as select subject_id, grade, region_code
            from marts.sampling_candidates where is_eligible""")
        con.execute("create or replace temp table plan as select grade, sample_size from marts.sampling_plan")
        con.execute("create or replace temp table roster as select badge_no, region_code from marts.sampling_roster")
        con.execute("create or replace temp table names (badge_no varchar, name varchar)")
        con.executemany("insert into names values (?, ?)", [[b, n] for b, n, _ in roster])
        for block in doc_recipe_blocks():
            con.execute(block)
        con.execute(f"""create or replace table marts.inspection_draw as
            select '{department}' as department_code, '{FAKE_PERIOD}' as period, d.subject_id, d.grade,
                   d.draw_key,
                   n1.name || '（' || i1.badge_no || '）' as inspector_1,
                   n2.name || '（' || i2.badge_no || '）' as inspector_2,
                   '{seed}' as seed, d.draw_rank, c.uscc, c.name, d.region_code,
                   i1.badge_no as inspector_1_badge_no, n1.name as inspector_1_name,
                   i2.badge_no as inspector_2_badge_no, n2.name as inspector_2_name,
                   cast('{as_of}' as date) as as_of
            from drawn as d
            join marts.sampling_candidates as c on c.subject_id = d.subject_id
            left join drawn_inspectors as i1 on i1.subject_id = d.subject_id and i1.pick = 1
            left join drawn_inspectors as i2 on i2.subject_id = d.subject_id and i2.pick = 2
            left join names as n1 on n1.badge_no = i1.badge_no
            left join names as n2 on n2.badge_no = i2.badge_no""")
    finally:
        con.close()
    return path
