"""A tiny warehouse for the dbt tests: ``raw.<category>`` tables with the layout of
docs/architecture.md (generated from the catalogue, like ingestion's), plus
``codes.subjects``, ``codes.subject_refs`` and ``audit.loads``, filled from small
polars frames.

Rows are given with catalogue field names plus ``subject_id`` (the resolution the codes
stage would have made) and the lineage that matters (``batch``, ``department_code``);
everything else (record_id, record_key, is_current, superseded_by …) is derived the way
ingestion derives it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipelines.catalogue import Catalogue, load_catalogue

FIELD_SQL = {"text": "VARCHAR", "code": "VARCHAR", "enum": "VARCHAR", "enum_list": "VARCHAR",
             "date": "DATE", "money": "DOUBLE", "int": "BIGINT"}
LINEAGE_SQL = [
    ("source_file", "VARCHAR"), ("source_row", "BIGINT"), ("department_code", "VARCHAR"),
    ("batch", "VARCHAR"), ("batch_date", "DATE"), ("load_id", "VARCHAR"),
    ("loaded_at", "TIMESTAMP"), ("record_key", "VARCHAR"), ("is_current", "BOOLEAN"),
    ("superseded_by", "VARCHAR"), ("flags", "VARCHAR[]"), ("money_suspicious", "BOOLEAN"),
    ("extra", "JSON"),
]
SUBJECT_COLUMNS = {
    "subject_id": pl.Utf8, "uscc": pl.Utf8, "name": pl.Utf8, "name_norm": pl.Utf8,
    "subject_kind": pl.Utf8, "entity_type": pl.Utf8, "region_code": pl.Utf8,
    "industry_code": pl.Utf8, "status": pl.Utf8, "established_on": pl.Date,
    "registered_capital": pl.Float64, "legal_rep": pl.Utf8, "legal_rep_id_masked": pl.Utf8,
    "reg_no": pl.Utf8, "org_code": pl.Utf8, "in_register": pl.Boolean,
}


def raw_columns(cat: Catalogue, category: str) -> list[tuple[str, str]]:
    c = cat.categories[category]
    cols = [("record_id", "VARCHAR")]
    for f in c.fields:
        cols.append((f.name, FIELD_SQL[f.type]))
        if f.personal:
            cols.append((f"{f.name}_hash", "VARCHAR"))
            if f.code_kind == "id_no":
                cols.append((f"{f.name}_masked", "VARCHAR"))
    return cols + LINEAGE_SQL


def _sha(s: str, n: int = 64) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()[:n]


def _batch_date(batch: str) -> dt.date:
    d = batch.split("_")[0].replace("-", "")
    return dt.date(int(d[:4]), int(d[4:6]), int(d[6:8]))


class TinyWarehouse:
    def __init__(self, path: Path, catalogue: Catalogue | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.cat = catalogue or load_catalogue()
        self.rows: dict[str, list[dict[str, Any]]] = {c: [] for c in self.cat.categories}
        self.subjects: list[dict[str, Any]] = []
        self._row_counter: dict[str, int] = {}

    # -- building ---------------------------------------------------------------
    def subject(self, subject_id: str, name: str, kind: str = "法人及非法人组织", **kw: Any) -> str:
        row = {k: None for k in SUBJECT_COLUMNS}
        row.update(subject_id=subject_id, name=name, name_norm=name, subject_kind=kind,
                   uscc=subject_id if kind != "自然人" else None, in_register=kind != "自然人",
                   status="存续", established_on=dt.date(2015, 1, 1), registered_capital=500.0,
                   entity_type="企业", region_code="130100", industry_code="C1311")
        row.update(kw)
        self.subjects.append(row)
        return subject_id

    def add(self, category: str, subject_id: str | None, batch: str, department_code: str = "scjg",
            **fields: Any) -> dict[str, Any]:
        """Add one delivered row. Record key fields default sensibly; returns the row."""
        c = self.cat.categories[category]
        row: dict[str, Any] = {f.name: None for f in c.fields}
        row.update(fields)
        if c.has_subject and "subject_name" in row and row.get("subject_name") is None:
            subj = next((s for s in self.subjects if s["subject_id"] == subject_id), None)
            row["subject_name"] = subj["name"] if subj else subject_id
            row.setdefault("subject_kind", subj["subject_kind"] if subj else "法人及非法人组织")
            if row.get("subject_kind") is None:
                row["subject_kind"] = subj["subject_kind"] if subj else "法人及非法人组织"
            if subj and row.get("uscc") is None and subj["uscc"]:
                row["uscc"] = subj["uscc"]
        for f in c.fields:  # enum defaults, as ingestion applies them
            if row.get(f.name) is None and f.default is not None:
                row[f.name] = f.default
        file = f"{department_code}/{batch}/{category}.csv"
        self._row_counter[file] = self._row_counter.get(file, 0) + 1
        key_src = "|".join(str(row.get(k) if k != "department_code" else department_code)
                           for k in c.record_key)
        row.update(
            record_id=_sha(f"{file}#{self._row_counter[file]}", 20),
            source_file=file, source_row=self._row_counter[file], department_code=department_code,
            batch=batch, batch_date=_batch_date(batch), load_id=_sha(file, 12),
            loaded_at=dt.datetime(2026, 1, 1), record_key=_sha(key_src), flags=[],
            money_suspicious=False, extra=None, _subject_id=subject_id,
        )
        self.rows[category].append(row)
        return row

    # -- writing ----------------------------------------------------------------
    def write(self) -> Path:
        if self.path.exists():
            self.path.unlink()
        con = duckdb.connect(str(self.path))
        try:
            for schema in ("raw", "codes", "audit"):
                con.execute(f"create schema if not exists {schema}")
            refs: list[dict[str, Any]] = []
            for cid in self.cat.categories:
                cols = raw_columns(self.cat, cid)
                con.execute(f"create table raw.{cid} ({', '.join(f'{n} {t}' for n, t in cols)})")
                rows = self._with_current(self.rows[cid])
                if not rows:
                    continue
                frame = pl.DataFrame(
                    [{n: r.get(n) for n, _ in cols} for r in rows],
                    schema_overrides={"flags": pl.List(pl.Utf8)}, infer_schema_length=None,
                )
                con.register("frame", frame.to_arrow())
                con.execute(f"insert into raw.{cid} by name select * exclude (extra) from frame")
                con.unregister("frame")
                if self.cat.categories[cid].has_subject:
                    for r in rows:
                        if r["is_current"]:
                            refs.append({"record_id": r["record_id"], "category": cid,
                                         "department_code": r["department_code"],
                                         "subject_id": r["_subject_id"],
                                         "resolved_uscc": r.get("uscc"),
                                         "status": "valid" if r["_subject_id"] else "unresolved",
                                         "method": "exact", "confidence": 1.0})
            subjects = pl.DataFrame(self.subjects, schema=SUBJECT_COLUMNS)
            refs_df = pl.DataFrame(refs, schema={
                "record_id": pl.Utf8, "category": pl.Utf8, "department_code": pl.Utf8,
                "subject_id": pl.Utf8, "resolved_uscc": pl.Utf8, "status": pl.Utf8,
                "method": pl.Utf8, "confidence": pl.Float64})
            con.register("s", subjects.to_arrow())
            con.register("r", refs_df.to_arrow())
            con.execute("create table codes.subjects as select * from s")
            con.execute("create table codes.subject_refs as select * from r")
            # Code governance's change log (read by delta builds; empty: every build here is full).
            con.execute("create table codes.subject_changes (generation bigint, subject_id varchar)")
            con.execute("""create table audit.loads (load_id varchar, source_file varchar,
                department_code varchar, category varchar, batch varchar, batch_date date,
                sha256 varchar, rows_read bigint, rows_loaded bigint, rows_rejected bigint,
                status varchar, reason varchar, loaded_at timestamp)""")
        finally:
            con.close()
        return self.path

    @staticmethod
    def _with_current(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        by_key: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            by_key.setdefault(r["record_key"], []).append(r)
        for group in by_key.values():
            group.sort(key=lambda r: (r["batch_date"], r["batch"], r["source_file"], r["source_row"]))
            cur = group[-1]
            for r in group:
                r["is_current"] = r is cur
                r["superseded_by"] = None if r is cur else cur["record_id"]
        return rows
