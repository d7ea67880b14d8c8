"""The data dictionary: every published mart and every one of its columns is described
(Chinese and English), and the published dbt docs page works offline."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from browser import open_offline

from pipelines.warehouse.docs import TRACKER_SRC, publish_dbt_docs

MARTS = ["subjects", "credit_records", "score_components", "credit_grades", "sampling_plan", "inspection_draw"]
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]{3,}")


@pytest.fixture(scope="module")
def docs(analysts_data_dir: Path) -> Path:
    return publish_dbt_docs(analysts_data_dir)


def _nodes(docs: Path) -> tuple[dict, dict]:
    manifest = json.loads((docs.parent / "manifest.json").read_text(encoding="utf-8"))
    catalog = json.loads((docs.parent / "catalog.json").read_text(encoding="utf-8"))
    return manifest["nodes"], catalog["nodes"]


def test_published_where_expected(docs: Path, analysts_data_dir: Path):
    assert docs == analysts_data_dir / "reports" / "dbt_docs" / "index.html"
    html = docs.read_text(encoding="utf-8")
    assert "credit grade A" in html  # the descriptions are in the page (manifest built in, JSON-escaped)
    assert TRACKER_SRC not in html and "Content-Security-Policy" in html


@pytest.mark.parametrize("model", MARTS)
def test_every_mart_column_is_described(docs: Path, model: str):
    manifest, catalog = _nodes(docs)
    uid = f"model.credit_warehouse.{model}"
    node = manifest[uid]
    assert CJK.search(node["description"]) and LATIN.search(node["description"]), node["description"]
    # every column the table really has (catalog, read from the warehouse) is documented
    columns = {c.lower() for c in catalog[uid]["columns"]}
    documented = {name.lower(): col["description"] for name, col in node["columns"].items()}
    missing = sorted(c for c in columns if not documented.get(c))
    assert not missing, f"{model}: columns without a description: {missing}"
    for name, text in documented.items():
        assert CJK.search(text) and LATIN.search(text), f"{model}.{name}: {text!r} (Chinese / English)"


def test_docs_page_makes_no_network_request(docs: Path):
    opened = open_offline(docs, fragment="#!/model/model.credit_warehouse.credit_grades", wait_ms=1500,
                          screenshot="dbt_docs.png")
    text, requests = opened.text, opened.requests
    assert "credit grade A–D" in text
    # dbt's page asks for a few broken relative icons (file://); nothing leaves the machine
    assert all(u.startswith(("file://", "data:")) for u in requests), [u for u in requests if not u.startswith("file")]


def test_unchanged_inputs_are_not_regenerated(docs: Path, analysts_data_dir: Path, tmp_path: Path, monkeypatch):
    """A run that changed neither the project nor the columns in dbt's schemas skips dbt
    (tables other stages keep in their own schemas do not count); a new column in a dbt
    schema, another as_of or force regenerate the page."""
    import shutil
    import subprocess

    import duckdb

    from pipelines.warehouse import docs as docs_mod

    calls = []
    real_run = subprocess.run
    monkeypatch.setattr(docs_mod.subprocess, "run", lambda *a, **k: calls.append(a) or real_run(*a, **k))
    before = docs.stat().st_mtime_ns
    assert publish_dbt_docs(analysts_data_dir) == docs and calls == [] and docs.stat().st_mtime_ns == before
    state = json.loads((docs.parent / docs_mod.FINGERPRINT_FILE).read_text(encoding="utf-8"))
    schemas = state["schemas"]
    assert {"raw", "codes", "staging", "intermediate", "marts"} <= set(schemas) and "deliver" not in schemas
    manifest = json.loads((docs.parent / "manifest.json").read_text(encoding="utf-8"))
    assert schemas == docs_mod.dbt_schemas(manifest)
    assert docs_mod.inputs_fingerprint(analysts_data_dir, schemas=schemas) == state["fingerprint"]

    # Tables added on a copy (the shared warehouse stays read-only for the other tests)
    data = tmp_path / "data"
    shutil.copytree(analysts_data_dir / "warehouse", data / "warehouse")
    shutil.copytree(docs.parent, data / "reports" / "dbt_docs")
    page = data / "reports" / "dbt_docs" / "index.html"
    fp = docs_mod.inputs_fingerprint(data, schemas=schemas)
    assert fp == state["fingerprint"]
    with duckdb.connect(str(data / "warehouse" / "credit.duckdb")) as con:
        con.execute("create schema if not exists deliver")
        con.execute("create table deliver._docs_probe (x integer)")
        con.execute("create table marts._docs_probe (x integer)")
    assert docs_mod.inputs_fingerprint(data, schemas=schemas) != fp
    with duckdb.connect(str(data / "warehouse" / "credit.duckdb")) as con:
        con.execute("drop table marts._docs_probe")
    # another stage's table: the page is not regenerated
    assert docs_mod.inputs_fingerprint(data, schemas=schemas) == fp
    assert docs_mod.inputs_fingerprint(data) != docs_mod.inputs_fingerprint(data, schemas=schemas)
    assert publish_dbt_docs(data) == page and calls == []
    assert docs_mod.inputs_fingerprint(data, "2026-01-31", schemas) != fp

    # force: dbt is called although nothing changed (stopped there: generating the page
    # again would only cost time; the page above is the one a regeneration writes)
    class Called(Exception):
        pass

    def stop(*a, **k):
        calls.append(a)
        raise Called

    monkeypatch.setattr(docs_mod.subprocess, "run", stop)
    with pytest.raises(Called):
        publish_dbt_docs(data, force=True)
    assert len(calls) == 1 and calls[0][0][1:3] == ["docs", "generate"]
