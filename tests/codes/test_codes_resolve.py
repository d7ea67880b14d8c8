"""Resolution against the register on small hand-built raw tables (temp DuckDB)."""

from __future__ import annotations

import datetime as dt
import hashlib

import duckdb
import polars as pl
import pytest
from codes_testgen import make_id, make_reg_no, make_uscc

from pipelines.catalogue import load_catalogue
from pipelines.codes.privacy import keyed_hash
from pipelines.codes.resolve import FEEDBACK_HEADERS, department_feedback, resolve_subjects
from pipelines.codes.validators import check_uscc

KEY = b"test-key"


def crash_on_call(monkeypatch, module, name: str, n: int = 1) -> None:
    """``module.name`` raises "simulated crash" on its ``n``-th call (earlier calls work)."""
    real = getattr(module, name)
    calls = {"n": 0}

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise RuntimeError("simulated crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, crashing)


def _valid(prefix, region, body):
    code = make_uscc(prefix, region, body)
    assert check_uscc(code).status == "valid"
    return code


A = _valid("91", "350100", "MA2B3C4D")
B = _valid("91", "350100", "10203040")          # has 0s and 1s for the look-alike
C1 = _valid("91", "350200", "MA3C5D7E")
C2 = _valid("91", "350200", "MA3C5D8F")
D = _valid("91", "350300", "MA4D6F8H")
E = _valid("91", "350400", "70801050")
G = next(c for c in (_valid("91", "350500", f"{n:08d}") for n in range(12345678, 12345800))
         if c.isdigit() and not c.endswith("000"))
H = _valid("91", "350600", "MA5E7G9J")
J = _valid("92", "350700", "MA6F8H0K")
K1 = _valid("91", "350800", "MA7G9J1L")
K2 = _valid("92", "350900", "MA7G9J1L")         # same 主体标识码 → same org code
U = _valid("91", "351000", "MA8H0K2M")           # valid, not in the register
RA = make_reg_no("35010040001234")
PERSON_ID = make_id("360426", dt.date(1991, 1, 1), "007")

REG_COLS = ("record_id VARCHAR, uscc VARCHAR, name VARCHAR, entity_type VARCHAR, reg_no VARCHAR, "
            "legal_rep VARCHAR, established_on DATE, region_code VARCHAR, industry_code VARCHAR, "
            "status VARCHAR, source_file VARCHAR, source_row BIGINT, department_code VARCHAR, "
            "batch VARCHAR, batch_date DATE, is_current BOOLEAN")
REC_COLS = ("record_id VARCHAR, subject_name VARCHAR, subject_kind VARCHAR, uscc VARCHAR, "
            "reg_no VARCHAR, org_code VARCHAR, id_no VARCHAR, id_no_hash VARCHAR, id_no_masked VARCHAR, "
            "source_file VARCHAR, source_row BIGINT, department_code VARCHAR, is_current BOOLEAN")
ORG = "法人及非法人组织"


def _register_rows():
    rows = [
        (A, "甲科技有限公司", "企业", RA),
        (B, "乙贸易有限公司", "企业", None),
        (C1, "丙实业有限公司", "企业", None),
        (C2, "丙实业（有限）公司".replace("（有限）", "实业有限").replace("实业实业", "实业"), "企业", None),
        (D, "丁食品有限公司", "企业", None),
        (E.replace("0", "O", 1), "戊贸易有限公司", "企业", None),  # look-alike in the register itself
        (G, "戊建材有限公司", "企业", None),
        (H, "己物流有限公司", "企业", None),
        (J, "庚餐饮店", "个体工商户", None),
        (K1, "壬制造有限公司", "企业", None),
        (K2, "壬制造有限公司分厂", "企业", None),
    ]
    out = []
    for i, (u, name, ent, reg) in enumerate(rows, start=1):
        out.append((f"reg{i:02d}", u, name, ent, reg, "张三", dt.date(2020, 1, 1), "350100", "C13",
                    "存续", "scjg/20261101/registration.csv", i, "scjg", "20261101",
                    dt.date(2026, 11, 1), True))
    # 重码: the same code earlier registered under another name (superseded row)
    out.append(("reg99", D, "丁食品实业有限公司", "企业", None, "李四", dt.date(2019, 1, 1), "350100",
                "C13", "存续", "scjg/20261001/registration.csv", 1, "scjg", "20261001",
                dt.date(2026, 10, 1), False))
    return out


# record id → (name, kind, uscc, reg_no, org_code, id_no, expected status, method, resolved)
CASES = {
    "p01": ("甲科技有限公司", ORG, A, None, None, None, "valid", "exact", A),
    "p02": ("甲科技有限公司", ORG, A[:8].lower() + "-" + A[8:].lower(), None, None, None, "valid", "normalise", A),
    "p03": ("乙贸易有限公司", ORG, B[:9] + B[9:].replace("0", "O", 1), None, None, None, "repaired", "lookalike", B),
    "p04": ("甲科技有限公司", ORG, A[8:16] + "-" + A[16], None, None, None, "repaired", "register_org_code", A),
    "p05": ("甲科技有限公司", ORG, None, RA, None, None, "repaired", "register_reg_no", A),
    "p06": ("戊建材有限公司", ORG, G[:15] + "000", None, None, None, "repaired", "name_excel_tail", G),
    "p07": ("己物流有限公司", ORG, H[:10] + ("X" if H[10] != "X" else "Y") + H[11:], None, None, None,
            "repaired", "name_typo", H),
    "p08": ("庚餐饮店", "个体工商户", None, None, None, None, "repaired", "name_match", J),
    "p09": ("乙贸易有限公司", ORG, B[:12], None, None, None, "repaired", "name_match", B),
    "p10": ("丙实业有限公司", ORG, "ABC123", None, None, None, "ambiguous", None, None),
    "p11": ("辛咨询有限公司", ORG, U, None, None, None, "unknown_subject", None, U),
    "p12": ("未知有限公司", ORG, "12345678", None, None, None, "unresolved", None, None),
    "p13": ("王五", "自然人", None, None, None, PERSON_ID, "person", "id_hash", None),
    "p14": ("赵六", "自然人", None, None, None, "360426199113450071", "unresolved", None, None),
    "p15": ("壬制造", ORG, None, None, K1[8:17], None, "ambiguous", None, None),
    "p16": ("戊贸易有限公司", ORG, E, None, None, None, "valid", "exact", E),
}


def _records():
    out = []
    for i, (rid, (name, kind, u, reg, org, idn, *_)) in enumerate(CASES.items(), start=1):
        dept = "scjg" if i % 2 else "sthj"
        h = keyed_hash(idn, KEY) if idn else None
        out.append((rid, name, kind, u, reg, org, idn, h, None, f"{dept}/20261101/admin_penalty.csv", i,
                    dept, True))
    # a superseded row is ignored
    out.append(("old1", "甲科技有限公司", ORG, "garbage", None, None, None, None, None,
                "scjg/20261001/admin_penalty.csv", 1, "scjg", False))
    return out


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


@pytest.fixture()
def con(catalogue):
    c = duckdb.connect()
    c.execute("CREATE SCHEMA raw")
    c.execute(f"CREATE TABLE raw.registration ({REG_COLS})")
    c.executemany(f"INSERT INTO raw.registration VALUES ({', '.join(['?'] * 16)})", _register_rows())
    c.execute(f"CREATE TABLE raw.admin_penalty ({REC_COLS})")
    c.executemany(f"INSERT INTO raw.admin_penalty VALUES ({', '.join(['?'] * 13)})", _records())
    yield c
    c.close()


def _refs(con):
    return {r[0]: r[1:] for r in con.execute(
        "SELECT record_id, status, method, resolved_uscc, subject_id, confidence FROM codes.subject_refs"
    ).fetchall()}


def test_every_method(con, catalogue):
    summary = resolve_subjects(con, catalogue, KEY)
    refs = _refs(con)
    assert "old1" not in refs
    for rid, (*_, status, method, resolved) in CASES.items():
        got = refs[rid]
        assert (got[0], got[1], got[2]) == (status, method, resolved), rid
        if method:
            assert 0 < got[4] <= 1
    assert summary["references"] == len(CASES) + 11  # + the current registration rows
    # register rows: valid, and the look-alike one repaired
    assert refs["reg06"][:3] == ("repaired", "lookalike", E)
    assert refs["reg01"][:3] == ("valid", "exact", A)


def test_subject_ids(con, catalogue):
    resolve_subjects(con, catalogue, KEY)
    refs = _refs(con)
    assert refs["p01"][3] == A and refs["p11"][3] == U
    assert refs["p13"][3] == "P" + keyed_hash(PERSON_ID, KEY)[:16]
    assert refs["p12"][3] == "N" + hashlib.sha256("未知有限公司".encode()).hexdigest()[:16]
    subjects = con.sql("SELECT subject_id, uscc, name, in_register, org_code, reg_no, legal_rep_id_masked "
                           "FROM codes.subjects").pl()
    assert subjects["subject_id"].is_unique().all()
    by_id = {r["subject_id"]: r for r in subjects.iter_rows(named=True)}
    assert by_id[A]["in_register"] and by_id[A]["org_code"] == A[8:17] and by_id[A]["reg_no"] == RA
    assert by_id[U]["in_register"] is False and by_id[U]["name"] == "辛咨询有限公司"
    person = by_id["P" + keyed_hash(PERSON_ID, KEY)[:16]]
    assert person["legal_rep_id_masked"] == "3604**********0071" and person["uscc"] is None
    # every subject_ref points to a subject
    orphans = con.execute("SELECT count(*) FROM codes.subject_refs r LEFT JOIN codes.subjects s "
                          "USING (subject_id) WHERE s.subject_id IS NULL").fetchall()[0][0]
    assert orphans == 0
    reg = con.execute("SELECT count(*) FROM codes.register").fetchall()[0][0]
    assert reg == 11


def test_resolution_log(con, catalogue):
    resolve_subjects(con, catalogue, KEY)
    log = con.sql("SELECT * FROM audit.code_resolutions").pl()
    not_valid = con.execute("SELECT count(*) FROM codes.subject_refs WHERE status NOT IN ('valid', 'person')"
                            ).fetchall()[0][0]
    assert log.height == not_valid
    assert log.select("source_file", "source_row").is_unique().all()
    assert set(log["status"]) == {"repaired", "ambiguous", "unresolved", "unknown_subject"}
    row = log.filter(pl.col("record_id") == "p05").row(0, named=True)
    assert (row["field"], row["original_value"], row["resolved_uscc"]) == ("reg_no", RA, A)
    person = log.filter(pl.col("record_id") == "p14").row(0, named=True)
    assert person["original_value"] == "3604**********0071" and person["field"] == "id_no"
    assert PERSON_ID not in log.write_csv() and "360426199113450071" not in log.write_csv()
    amb = log.filter(pl.col("record_id") == "p10").row(0, named=True)
    assert amb["resolved_uscc"] is None and set(amb["candidates"].split("、")) == {C1, C2}
    amb = log.filter(pl.col("record_id") == "p15").row(0, named=True)
    assert set(amb["candidates"].split("、")) == {K1, K2} and amb["field"] == "org_code"
    assert all(p for p in log["problem"])


def test_conflicts(con, catalogue):
    resolve_subjects(con, catalogue, KEY)
    conf = con.sql("SELECT kind, uscc, name, detail FROM audit.code_conflicts").pl()
    dup = conf.filter(pl.col("kind") == "duplicate_code")
    assert set(dup["uscc"]) == {D} and set(dup["name"]) == {"丁食品有限公司", "丁食品实业有限公司"}
    multi = conf.filter(pl.col("kind") == "multiple_codes")
    assert set(multi["uscc"]) == {C1, C2}
    assert all("重码" in d for d in dup["detail"]) and all("多码" in d for d in multi["detail"])


def test_idempotent(con, catalogue):
    first = resolve_subjects(con, catalogue, KEY)
    tables = ["codes.subjects", "codes.subject_refs", "codes.register", "audit.code_resolutions",
              "audit.code_conflicts"]
    before = {t: con.sql(f"SELECT * FROM {t}").pl() for t in tables}
    second = resolve_subjects(con, catalogue, KEY)
    assert first == second
    for t in tables:
        assert con.sql(f"SELECT * FROM {t}").pl().equals(before[t]), t


def test_department_feedback(con, catalogue):
    resolve_subjects(con, catalogue, KEY)
    fb = department_feedback(con, "scjg")
    assert fb.columns == list(FEEDBACK_HEADERS.values())
    assert fb.columns == ["原始代码", "建议代码", "问题类型", "处理方法", "置信度", "来源文件", "行号", "字段"]
    assert fb.height > 0
    assert set(fb["来源文件"]) == {"scjg/20261101/admin_penalty.csv", "scjg/20261101/registration.csv"}
    assert department_feedback(con, "nobody").height == 0
    both = department_feedback(con, "scjg").height + department_feedback(con, "sthj").height
    n = con.execute("SELECT count(*) FROM audit.code_resolutions").fetchall()[0][0]
    assert both == n
    row = department_feedback(con, "sthj").filter(pl.col("原始代码") == G[:15] + "000")
    assert row.height == 1 and row["建议代码"][0] == G and "Excel" in row["问题类型"][0]


TABLES = ["codes.subjects", "codes.register", "codes.subject_refs", "audit.code_resolutions",
          "audit.code_conflicts"]


def _tables(con) -> dict[str, pl.DataFrame]:
    return {t: con.sql(f"SELECT * FROM {t}").pl() for t in TABLES}


@pytest.mark.parametrize("batch_rows", [2, 5])
def test_batches_give_the_same_tables(con, catalogue, batch_rows):
    """References are classified a batch at a time, cut inside and across categories: every
    table equals the one-batch run's, row for row and in order."""
    whole = resolve_subjects(con, catalogue, KEY)
    tables = _tables(con)
    assert resolve_subjects(con, catalogue, KEY, batch_rows=batch_rows, full=True) == whole
    for t, frame in _tables(con).items():
        assert frame.equals(tables[t]), t


def test_batches_give_the_same_tables_generated(catalogue):
    """The same on generated references with every kind of problem (the codes benchmark's)."""
    from pipelines.bench.codes import build_raw

    with duckdb.connect() as c:
        build_raw(c, 1000, 2000, seed=7)
        whole = resolve_subjects(c, catalogue, KEY)
        tables = _tables(c)
        assert resolve_subjects(c, catalogue, KEY, batch_rows=900, full=True) == whole
        for t, frame in _tables(c).items():
            assert frame.equals(tables[t]), t
    assert whole["references"] == 3000 and whole["by_status"]["repaired"] > 1000


def test_batch_of_a_row_group_or_more(catalogue):
    """A batch of at least a DuckDB row group (122 880 rows) is found whole by the filters
    and sorts that build the tables (DuckDB 2.0 loses it when the temp tables are created
    from an empty frame in the same transaction). No register: every reference unresolved."""
    n = 130_000
    with duckdb.connect() as c:
        c.execute("CREATE SCHEMA raw")
        c.execute(f"CREATE TABLE raw.admin_penalty ({REC_COLS})")
        c.execute(f"""INSERT INTO raw.admin_penalty
            SELECT 'r' || i, '某某贸易有限公司' || i, '{ORG}', 'BAD' || i, NULL, NULL, NULL, NULL, NULL,
                   'scjg/20261101/admin_penalty.csv', i, 'scjg', TRUE
            FROM range({n}) t(i)""")
        summary = resolve_subjects(c, catalogue, KEY)
        found = c.execute("SELECT count(*) FROM codes.subject_refs WHERE record_id = 'r5'").fetchall()[0][0]
    assert summary["references"] == n and summary["by_status"] == {"unresolved": n}
    assert summary["resolutions"] == n and summary["subjects"] == n and found == 1


@pytest.mark.parametrize("fail_in", ["classification", "publication"])
def test_a_failed_run_leaves_the_published_tables_as_they_were(con, catalogue, monkeypatch, fail_in):
    """Classification fills temp tables outside the transaction (memory: rows inserted in a
    transaction are held uncompressed until commit); publication replaces the tables in
    one transaction. A failure in either leaves the previous run's tables, row for row, and
    no temp table behind; the next run works. (The publication fails in codes.subjects,
    which every run that changes a reference recomputes; audit.code_conflicts is only
    recomputed when the register changed — see test_codes_incremental.py.)"""
    from pipelines.codes import resolve

    first = resolve_subjects(con, catalogue, KEY)
    before = _tables(con)
    # a delivery the next run would classify in several batches (batch_rows 3) and publish
    con.execute(f"""INSERT INTO raw.admin_penalty
        SELECT 'new' || i, '某某贸易有限公司' || i, '{ORG}', 'BAD' || i, NULL, NULL, NULL, NULL, NULL,
               'scjg/20261102/admin_penalty.csv', i, 'scjg', TRUE
        FROM range(7) t(i)""")
    if fail_in == "classification":
        crash_on_call(monkeypatch, resolve, "_classify", 2)
    else:
        monkeypatch.setattr(resolve, "SUBJECTS_SQL", "SELECT * FROM no_such_table")
    with pytest.raises((RuntimeError, duckdb.Error)):
        resolve_subjects(con, catalogue, KEY, batch_rows=3)
    for t, frame in _tables(con).items():
        assert frame.equals(before[t]), t
    temp = con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary "
                       "UNION ALL SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal").fetchall()
    assert temp == []
    monkeypatch.undo()
    again = resolve_subjects(con, catalogue, KEY)
    assert again["references"] == first["references"] + 7 and again != first
