"""A small warehouse for the analysts' tests (built once per session by conftest.py): the dbt engineer's
TinyWarehouse (raw.* + codes.*) with a few subjects, records, a repair and an objection,
then the real dbt marts and sampling models (no data tests: they are covered elsewhere),
plus hand-written audit.* rows and a second evaluation for the grade history.

The full pipeline (`credit demo-data` + `credit run`) takes minutes on the shared
2-core machine, so it is not used here; the notebooks were also run by hand against a
`credit run` warehouse (see docs/analysts.md)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "dbt"))
sys.path.insert(0, str(HERE.parent / "deliver"))
from dbt_warehouse_fixture import TinyWarehouse  # noqa: E402  (the dbt engineer's fixture)
from deliver_fixture import id_number  # noqa: E402

from pipelines.settings import PROJECT_ROOT  # noqa: E402

D = dt.date
AS_OF = "2026-11-30"
PAST_AS_OF = "2026-08-31"
PERSON_ID = id_number("13010219850612003")
PERSON_MASKED = PERSON_ID[:4] + "*" * 10 + PERSON_ID[-4:]
SRC = {"source_dept": "测试部门", "source_dept_uscc": "91130100MA0009999X"}


def uscc(n: int) -> str:
    return f"91130100MA{n:07d}X"[:18]


PENALISED = uscc(100)   # a penalty (public), a repaired penalty, an objection in progress
LISTED = uscc(101)      # serious dishonesty list → D


def build_raw(path: Path, n: int = 30) -> TinyWarehouse:
    w = TinyWarehouse(path)
    for i in range(n):
        w.subject(uscc(100 + i), f"分析{i}有限公司",
                  region_code=("130102", "130104", "130202", "130302")[i % 4],
                  industry_code=("C2611", "F5123", "H6210")[i % 3],
                  status="在业" if i % 3 == 0 else "存续", established_on=D(2005 + i % 15, 1, 1),
                  registered_capital=float(100 + 50 * i), legal_rep=f"法人{i}",
                  legal_rep_id_masked=PERSON_MASKED if i == 0 else None)
        if i % 5 == 2:
            w.add("inspection", uscc(100 + i), "20260505", "scjg", inspection_no=f"JC-{i}",
                  inspected_on=D(2026, 5, 1), inspected_by="市场监督管理局", result="未发现问题", **SRC)
        if i % 4 == 1:
            w.add("admin_license", uscc(100 + i), "20260305", "sthj", decision_doc_name="排污许可决定书",
                  decision_no=f"XK-{i}", content="排污许可", decided_on=D(2026, 3, 1),
                  valid_from=D(2026, 3, 1), valid_to=D(2029, 2, 28), authority="生态环境局",
                  authority_uscc=uscc(998), state="有效", **SRC)

    def penalty(sid: str, no: str, decided_on: D, batch: str, kinds: str, fine: float):
        w.add("admin_penalty", sid, batch, "scjg", decision_no=no, violation_type="违法", facts="事实",
              legal_basis="依据", penalty_kinds=kinds, content="内容", fine=fine, decided_on=decided_on,
              authority="市场监督管理局", authority_uscc=uscc(998), **SRC)

    penalty(PENALISED, "CF-1", D(2026, 6, 1), "20260605", "罚款;责令停产停业", 150.0)
    penalty(PENALISED, "CF-2", D(2026, 2, 1), "20260205", "罚款", 20.0)
    penalty(PENALISED, "CF-3", D(2026, 4, 1), "20260405", "罚款", 30.0)
    w.add("credit_repair", PENALISED, "20260705", "fgw", repaired_category="admin_penalty",
          repaired_record_no="CF-2", repair_way="终止公示", repaired_on=D(2026, 7, 1), decided_by="发改委", **SRC)
    w.add("objection", PENALISED, "20261005", "fgw", objection_no="YY-3", objected_category="admin_penalty",
          objected_record_no="CF-3", raised_on=D(2026, 10, 1), status="处理中", **SRC)
    w.add("serious_dishonesty_list", LISTED, "20260305", "fgw", list_name="严重失信主体名单",
          decision_no="SX-1", listed_by="发改委", basis="依据", reason="原因", listed_on=D(2026, 3, 1), **SRC)
    for dept, k in (("scjg", 5), ("sthj", 3)):
        for j in range(k):
            w.add("inspector", None, "20260105", dept, badge_no=f"{dept.upper()}-{j:03d}",
                  name=f"{dept}检查员{j}", region_code="130102" if j % 3 == 0 else "130104",
                  field="综合", active="在岗", **SRC)
    w.write()
    return w


AUDIT_SQL = """
delete from audit.loads;
insert into audit.loads (load_id, source_file, department_code, category, batch, batch_date, sha256,
                         rows_read, rows_loaded, rows_rejected, status, reason, loaded_at) values
  ('L1', 'scjg/20260505/inspection.csv', 'scjg', 'inspection', '20260505', date '2026-05-05', 'a', 10, 8, 2, 'loaded', null, timestamp '2026-05-05 08:00'),
  ('L2', 'scjg/20260605/admin_penalty.csv', 'scjg', 'admin_penalty', '20260605', date '2026-06-05', 'b', 5, 5, 0, 'loaded', null, timestamp '2026-06-05 08:00'),
  ('L3', 'sthj/20260305/admin_license.csv', 'sthj', 'admin_license', '20260305', date '2026-03-05', 'c', 8, 7, 1, 'loaded', null, timestamp '2026-03-05 08:00'),
  ('L4', 'sthj/20260605/行政许可.xlsx', 'sthj', null, '20260605', date '2026-06-05', 'd', 0, 0, 0, 'rejected_file', 'unknown_category: 无法识别的信息类别', timestamp '2026-06-05 08:00'),
  ('L5', 'fgw/最新数据/objection.csv', 'fgw', 'objection', '最新数据', null, 'e', 3, 2, 1, 'loaded', null, timestamp '2026-10-05 08:00');
create table audit.row_outcomes as
  select l.source_file, r.i as source_row, l.category, l.department_code, l.load_id,
         case when r.i <= l.rows_loaded then 'loaded' else 'rejected' end as outcome,
         case when r.i <= l.rows_loaded then l.load_id || '-' || r.i end as record_id
  from audit.loads l, range(1, 11) r(i) where r.i <= l.rows_read;
create table audit.rejected_rows as
  select source_file, source_row, department_code, category,
         case when category = 'admin_license' then '「许可决定日期」不是有效日期：2026-02-30' else '「行政相对人名称」为必填项' end as reasons,
         case when category = 'admin_license' then ['date_format'] else ['required'] end as rule_ids,
         '{"行政相对人名称": ""}'::json as raw
  from audit.row_outcomes where outcome = 'rejected';
create table audit.code_resolutions (source_file varchar, source_row bigint, field varchar, original_value varchar,
  resolved_uscc varchar, method varchar, confidence double, status varchar, record_id varchar, category varchar,
  department_code varchar, field_label varchar, problem varchar, candidates varchar);
insert into audit.code_resolutions values
  ('scjg/20260605/admin_penalty.csv', 1, 'uscc', '91130100MA0000100Y', '91130100MA0000100X', 'check_char', 0.95, 'repaired', 'L2-1', 'admin_penalty', 'scjg', '统一社会信用代码', 'check_char', null),
  ('sthj/20260305/admin_license.csv', 2, 'uscc', '9113O100MA0000105X', null, null, 0.0, 'unresolved', 'L3-2', 'admin_license', 'sthj', '统一社会信用代码', 'ocr', null);
"""


def run_dbt(data_dir: Path, args: list[str], as_of: str = AS_OF) -> None:
    """dbt in a subprocess: in-process, dbt-duckdb keeps the file open read-write and this
    process could then not open it read-only (DuckDB refuses a second configuration)."""
    project = PROJECT_ROOT / "dbt_project"
    dbt = Path(sys.executable).parent / "dbt"
    env = {**os.environ, "CREDIT_DATA_DIR": str(data_dir), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    res = subprocess.run([str(dbt), *args, "--project-dir", str(project), "--profiles-dir", str(project),
                          "--target-path", str(data_dir.parent / "dbt_target"),
                          "--log-path", str(data_dir.parent / "dbt_logs"),
                          "--vars", f"{{as_of: '{as_of}'}}", "--quiet"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]


def build_analysts_warehouse(data_dir: Path) -> Path:
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
    db = data_dir / "warehouse" / "credit.duckdb"
    build_raw(db)
    run_dbt(data_dir, ["build", "--select", "+path:models/marts", "+path:models/sampling",
                       "--exclude", "resource_type:test", "resource_type:unit_test"], AS_OF)
    con = duckdb.connect(str(db))
    try:
        con.execute(AUDIT_SQL)
        # a second, earlier evaluation so that grade histories have two points
        con.execute(f"""insert into marts.credit_grades
            select subject_id, date '{PAST_AS_OF}', least(1000, score + 40), case when grade = 'C' then 'B' else grade end,
                   grade_reason, model_version, score_grade, override_applied, evaluated_at
            from marts.credit_grades where as_of = date '{AS_OF}'""")
        con.execute(f"""insert into marts.score_components
            select subject_id, date '{PAST_AS_OF}', dimension, indicator, value, points, dimension_code,
                   indicator_name, model_version
            from marts.score_components where as_of = date '{AS_OF}'""")
    finally:
        con.close()
    (data_dir / "reports").mkdir(exist_ok=True)
    return data_dir


NOTEBOOKS = PROJECT_ROOT / "notebooks"
