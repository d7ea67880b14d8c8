"""Oracle: ``batch_frame`` as it was before it was vectorised (commit 3f57a89), kept
verbatim (per-row ``map`` / ``json.loads``) but for one marked fix, so tests can check
the vectorised version produces the same frame."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pandas as pd

from pipelines.catalogue import Category, Field
from pipelines.quality.masking import mask_ids, mask_personal
from pipelines.textnorm import normalize_header

_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_DATE8_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_LIST_SPLIT = re.compile(r"[;；、,，]")


def _when_column(f: Field) -> str:
    return f"_when_{f.name}"


def _parse_date(v: Any) -> Any:
    if v is None:
        return pd.NaT
    if isinstance(v, (dt.date, dt.datetime, pd.Timestamp)):
        return pd.Timestamp(v)
    s = str(v).strip()
    m = _DATE_RE.match(s) or _DATE8_RE.match(s)
    if not m:
        return pd.NaT
    try:
        return pd.Timestamp(dt.date(int(m[1]), int(m[2]), int(m[3])))
    except ValueError:
        return pd.NaT


def _rejected_frame(category: Category, rows: pd.DataFrame) -> pd.DataFrame:
    """audit.rejected_rows.raw (original headers) → canonical field columns (strings)."""
    out: list[dict[str, Any]] = []
    hmap = category.header_map
    for source_row, raw in zip(rows["source_row"], rows["raw"], strict=True):
        try:
            obj = json.loads(raw) if isinstance(raw, str) else (raw or {})
        except ValueError:
            obj = {}
        rec: dict[str, Any] = {"source_row": int(source_row), "_outcome": "rejected"}
        for k, v in (obj or {}).items():
            name = hmap.get(normalize_header(str(k)))
            if name is None or name in rec:
                continue
            s = None if v is None else str(v).strip()
            rec[name] = s or None
        out.append(rec)
    frame = pd.DataFrame(out)
    for f in category.fields:
        if f.name not in frame.columns:
            frame[f.name] = None
        col = frame[f.name]
        if f.type == "enum" and f.enum_aliases:
            frame[f.name] = col.map(lambda v, a=f.enum_aliases: a.get(v, v) if v is not None else None)
        elif f.type == "enum_list":
            # The one change to the original: it tested ``v is None``, but under pandas 3 a
            # missing value in a column that also holds text is NaN, so a file whose
            # rejected rows had both filled and empty enum lists raised TypeError.
            frame[f.name] = col.map(
                lambda v: None if not isinstance(v, str) else ";".join(p.strip() for p in _LIST_SPLIT.split(v) if p.strip())
            )
    return frame


def batch_frame(con, category: Category, source_file: str, batch_date: dt.date | None) -> pd.DataFrame:
    """The delivered rows of one file, loaded and rejected, masked, typed for GX."""
    fields = [f.name for f in category.fields]
    parts: list[pd.DataFrame] = []
    has_raw = con.execute(
        "select count(*) from information_schema.tables where table_schema='raw' and table_name=?",
        [category.id],
    ).fetchall()[0][0]
    if has_raw:
        cols = ", ".join(f'"{c}"' for c in fields)
        parts.append(
            con.execute(
                f"select source_row, 'loaded' as _outcome, {cols} from raw.\"{category.id}\" "
                "where source_file = ? order by source_row",
                [source_file],
            ).df()
        )
    rej = con.execute(
        "select source_row, raw::varchar as raw from audit.rejected_rows where source_file = ? order by source_row",
        [source_file],
    ).df()
    if len(rej):
        parts.append(_rejected_frame(category, rej))
    frame = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else (
        pd.DataFrame(columns=["source_row", "_outcome", *fields])
    )
    for f in category.fields:
        if f.name not in frame.columns:
            frame[f.name] = None
        col = frame[f.name]
        if f.type == "date":
            frame[f.name] = pd.to_datetime(col.map(_parse_date), errors="coerce")
        elif f.type in ("money", "int"):
            frame[f.name] = pd.to_numeric(col, errors="coerce").astype("float64")
        else:
            col = col.astype(object).where(col.notna(), None)
            if f.personal:
                col = col.map(lambda v: None if v is None else mask_personal(str(v)))
            else:
                col = col.map(lambda v: None if v is None else mask_ids(str(v)))
            frame[f.name] = col
    for f in category.fields:
        if f.required_when:
            target = frame[f.required_when.field].astype(object)
            wanted = set(f.required_when.in_)
            cond = target.map(
                lambda v: v is not None and bool(wanted & set(str(v).split(";")))  # noqa: B023
            )
            for other in f.unless_any:
                cond &= frame[other].isna()
            frame[_when_column(f)] = cond.map({True: "Y", False: "N"})
    return frame.sort_values("source_row", kind="stable").reset_index(drop=True)
