from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb
import pytest

from pipelines.catalogue import load_catalogue
from pipelines.settings import Paths

KEY = b"test-key"
VALID_USCC = "91350100M000100Y43"
VALID_USCC_2 = "91110000600037341L"

PENALTY = {
    "行政相对人名称": "福州某某贸易有限公司",
    "行政相对人类别": "法人及非法人组织",
    "统一社会信用代码": VALID_USCC_2,
    "法定代表人": "张三",
    "行政处罚决定书文号": "榕市监罚〔2024〕1号",
    "违法行为类型": "虚假宣传",
    "违法事实": "发布虚假广告",
    "处罚依据": "《中华人民共和国广告法》第五十五条",
    "处罚类别": "警告;罚款",
    "处罚内容": "警告并处罚款1万元",
    "罚款金额（万元）": "1",
    "处罚决定日期": "2024-03-05",
    "处罚机关": "福州市市场监督管理局",
    "处罚机关统一社会信用代码": VALID_USCC,
    "数据来源单位": "福州市市场监督管理局",
    "数据来源单位统一社会信用代码": VALID_USCC,
}


def penalty(n: int = 1, **overrides: str) -> dict[str, str]:
    row = dict(PENALTY)
    row["行政处罚决定书文号"] = f"榕市监罚〔2024〕{n}号"
    row.update(overrides)
    return row


def csv_bytes(rows: list[dict[str, str]], encoding: str = "utf-8", headers: list[str] | None = None) -> bytes:
    headers = headers or list(rows[0])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(headers)
    for r in rows:
        w.writerow([r.get(h, "") for h in headers])
    return buf.getvalue().encode(encoding)


@pytest.fixture(scope="session")
def catalogue():
    return load_catalogue()


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(tmp_path / "data").ensure()


def deliver(paths: Paths, rel: str, data: bytes) -> Path:
    p = paths.inbox / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def query(paths: Paths, sql: str):
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        return con.sql(sql).pl()
