"""A new category is a data change only; a malformed catalogue names the file and field."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from pipelines.catalogue import CatalogueError, load_catalogue
from pipelines.catalogue.schemas import SchemaContext, build_schema
from pipelines.ingest import ingest_inbox
from pipelines.settings import PROJECT_ROOT, Paths

NEW_CATEGORY = """\
id: environmental_credit
name: 环境信用评价
description: 企业环境信用评价结果。
blocks: [subject, source]
subject_kinds: [法人及非法人组织]
record_key: [subject_name, year]
fields:
  - {name: year, label: 评价年度, type: int, required: true, min: 2014, max: current_year}
  - {name: env_grade, label: 环境信用等级, type: enum, required: true, enum: [环保诚信, 环保良好, 环保警示, 环保不良],
     enum_aliases: {诚信: 环保诚信, 良好: 环保良好, 警示: 环保警示, 不良: 环保不良}}
  - {name: rated_on, label: 评价日期, type: date, required: true, not_future: true}
"""


def _copy_catalogue(tmp_path: Path) -> Path:
    root = tmp_path / "catalogs"
    shutil.copytree(PROJECT_ROOT / "catalogs", root)
    return root


def test_new_category_is_a_data_change(tmp_path):
    root = _copy_catalogue(tmp_path)
    (root / "categories" / "environmental_credit.yaml").write_text(NEW_CATEGORY, encoding="utf-8")
    deps = yaml.safe_load((root / "departments.yaml").read_text(encoding="utf-8"))
    for d in deps["departments"]:
        if d["code"] == "sthj":
            d["submits"].append("environmental_credit")
    (root / "departments.yaml").write_text(yaml.safe_dump(deps, allow_unicode=True), encoding="utf-8")
    cat = load_catalogue(root)
    assert cat.category("环境信用评价").id == "environmental_credit"

    rows = [
        ["行政相对人名称", "行政相对人类别", "统一社会信用代码", "法定代表人", "评价年度", "环境信用等级",
         "评价日期", "数据来源单位", "数据来源单位统一社会信用代码"],
        ["福州某某化工有限公司", "法人及非法人组织", "91110000600037341L", "王五", "2025", "良好",
         "2026/1/5", "生态环境局", "91350100M000100Y43"],
        ["福州某某纸业有限公司", "法人及非法人组织", "91310115MA1K3BTP2B", "赵六", "2025", "优秀",
         "2026/1/5", "生态环境局", "91350100M000100Y43"],
    ]
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    paths = Paths(tmp_path / "data").ensure()
    f = paths.inbox / "sthj" / "20260110" / "环境信用评价.csv"
    f.parent.mkdir(parents=True)
    f.write_bytes(buf.getvalue().encode("gb18030"))

    rep = ingest_inbox(paths, cat, key=b"k")
    st = rep.categories["environmental_credit"]
    assert (st.files, st.rows_loaded, st.rows_rejected) == (1, 1, 1)
    assert rep.files[0].flags == []  # sthj now submits it
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        assert con.execute("select env_grade, year, rated_on::varchar from raw.environmental_credit").fetchall() == [
            ("环保良好", 2025, "2026-01-05")
        ]
        assert con.execute("select reasons from audit.rejected_rows").fetchone()[0] == "「环境信用等级」的值不在代码表中：优秀"


def test_schema_is_generated_for_every_category():
    cat = load_catalogue()
    import datetime as dt

    for c in cat.categories.values():
        schema = build_schema(c, SchemaContext.for_batch(cat, dt.date(2026, 1, 1)))
        assert set(f.name for f in c.fields) <= set(schema.columns)


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        (
            lambda d: d["fields"][6].update({"required_when": {"field": "penalty_kind", "in": ["罚款"]}}),
            "admin_penalty.yaml: field 'fine': required_when refers to unknown field 'penalty_kind'",
        ),
        (
            lambda d: d["fields"][11].update({"not_before": "decided"}),
            "admin_penalty.yaml: field 'publicity_until': not_before must name a date field",
        ),
        (
            lambda d: d["fields"][15].update({"type": "enumeration"}),
            "admin_penalty.yaml: field 'domain': type",
        ),
        (lambda d: d.update({"record_key": ["decision_no", "nope"]}), "admin_penalty.yaml: record_key names unknown field 'nope'"),
    ],
)
def test_catalogue_errors_name_file_and_field(tmp_path, patch, expected):
    root = _copy_catalogue(tmp_path)
    p = root / "categories" / "admin_penalty.yaml"
    d = yaml.safe_load(p.read_text(encoding="utf-8"))
    patch(d)
    p.write_text(yaml.safe_dump(d, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogueError) as e:
        load_catalogue(root)
    assert expected in str(e.value)
