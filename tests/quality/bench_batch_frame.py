"""Time ``batch_frame`` (vectorised) against the row-by-row original on one large file.

Builds a DuckDB with the real raw / audit layout (``ensure_tables``) holding one
``admin_penalty`` file of N loaded rows plus R rejected rows (JSON with original headers),
generated with numpy (no per-row Python), then times both implementations and checks
they return the same frame. Not collected by pytest::

    .venv/bin/python -m tests.quality.bench_batch_frame 500000 10000 [--repeat=3] [--no-old]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from pipelines.catalogue import load_catalogue
from pipelines.ingest.load import ensure_tables
from pipelines.quality.gx_suites import batch_frame

SOURCE_FILE = "scjg/20251009/admin_penalty.csv"
FACTS = "当事人在其经营场所销售不符合国家标准的产品，经查实，违法所得若干元，" * 2


def _ids(rng: np.random.Generator, n: int) -> np.ndarray:
    body = rng.integers(10**16, 10**17, n).astype(str)
    check = rng.choice(np.array(list("0123456789X")), n)
    return np.char.add(body, check)


def _pick(rng: np.random.Generator, pool: list, n: int, null_share: float = 0.0) -> list:
    idx = rng.integers(0, len(pool), n)
    out = np.array(pool, dtype=object)[idx]
    if null_share:
        out[rng.random(n) < null_share] = None
    return out.tolist()


def build(path: Path, n_loaded: int, n_rejected: int, seed: int = 1) -> None:
    cat = load_catalogue().categories["admin_penalty"]
    rng = np.random.default_rng(seed)
    con = duckdb.connect(str(path))
    ensure_tables(con, load_catalogue())
    n = n_loaded + n_rejected
    person = rng.random(n) < 0.3
    ids = _ids(rng, n)
    days = rng.integers(0, 2500, n)
    base = np.datetime64("2019-01-01")
    cols: dict[str, list] = {
        "subject_name": np.char.add(np.char.add("测试企业", np.arange(n).astype(str)), "有限公司").tolist(),
        "subject_kind": np.where(person, "自然人", "法人及非法人组织").tolist(),
        "uscc": np.where(person, None, np.char.add("91350100M0001", rng.integers(10**4, 10**5, n).astype(str))).tolist(),
        "legal_rep": np.where(person, None, "张三").tolist(),
        "legal_rep_id_no": np.where(person, None, _ids(rng, n)).tolist(),
        "id_type": np.where(person, "身份证", None).tolist(),
        "id_no": np.where(person, ids, None).tolist(),
        "source_dept": ["市场监督管理局"] * n,
        "source_dept_uscc": ["11350100MB0000000X"] * n,
        "remark": _pick(rng, ["无", "当事人身份证 360402199001010071", None], n),
        "decision_no": np.char.add("闽市监罚〔2025〕", np.char.add(np.arange(n).astype(str), "号")).tolist(),
        "violation_type": _pick(rng, ["虚假宣传", "无照经营", "产品质量"], n),
        "facts": [FACTS] * n,
        "legal_basis": ["《中华人民共和国产品质量法》第四十九条"] * n,
        "penalty_kinds": _pick(rng, ["警告", "警告;罚款", "罚款", "罚款;没收违法所得"], n),
        "content": ["责令改正，罚款"] * n,
        "authority": ["市市场监督管理局"] * n,
        "authority_uscc": ["11350100MB0000000X"] * n,
        "severity": _pick(rng, ["一般", "较重", "严重"], n),
        "domain": ["其他"] * n,
    }
    fine = np.round(rng.random(n) * 50, 2)
    decided = base + days.astype("timedelta64[D]")
    valid_to = decided + 365
    loaded = pl.DataFrame({
        "source_file": [SOURCE_FILE] * n_loaded,
        "source_row": np.arange(1, n_loaded + 1),
        **{k: v[:n_loaded] for k, v in cols.items()},
        "fine": fine[:n_loaded],
        "decided_on": decided[:n_loaded],
        "valid_to": valid_to[:n_loaded],
    })
    con.register("loaded_df", loaded.to_arrow())
    con.execute('insert into raw."admin_penalty" by name select * from loaded_df')
    con.unregister("loaded_df")
    if n_rejected:
        headers = {f.name: f.label for f in cat.fields}
        rej_cols = {headers[k]: v[n_loaded:] for k, v in cols.items()}
        rej_cols[headers["fine"]] = fine[n_loaded:].astype(str).tolist()
        rej_cols[headers["decided_on"]] = np.char.replace(decided[n_loaded:].astype(str), "-", "/").tolist()
        rej_cols[headers["subject_kind"]] = _pick(rng, ["1", "2", "法人", "自然人"], n_rejected)
        rej_cols[headers["penalty_kinds"]] = _pick(rng, ["警告、罚款", "警告，罚款", "罚款", ""], n_rejected)
        # Ingest writes the JSON with polars (struct.json_encode); so does the benchmark.
        raw = pl.DataFrame({k: pl.Series(v, dtype=pl.String) for k, v in rej_cols.items()}).select(
            pl.struct(pl.all()).struct.json_encode().alias("raw"))["raw"]
        rej = pl.DataFrame({
            "source_file": [SOURCE_FILE] * n_rejected,
            "source_row": np.arange(n_loaded + 1, n + 1),
            "category": ["admin_penalty"] * n_rejected,
            "raw": raw,
        })
        con.register("rej_df", rej.to_arrow())
        con.execute("insert into audit.rejected_rows by name "
                    "select source_file, source_row, category, raw::json as raw from rej_df")
        con.unregister("rej_df")
        assert json.loads(raw[0])
    con.close()


def _best(fn, repeat: int) -> tuple[float, object]:
    """Fastest of ``repeat`` runs (the machine is shared) and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main(argv: list[str]) -> None:
    args = [a for a in argv if not a.startswith("--")]
    n_loaded = int(args[0]) if args else 500_000
    n_rejected = int(args[1]) if len(args) > 1 else 10_000
    repeat = next((int(a.split("=")[1]) for a in argv if a.startswith("--repeat=")), 1)
    cat = load_catalogue().categories["admin_penalty"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        t = time.perf_counter()
        build(path, n_loaded, n_rejected)
        print(f"built {n_loaded} loaded + {n_rejected} rejected rows in {time.perf_counter() - t:.1f}s")
        con = duckdb.connect(str(path), read_only=True)
        t_new, new = _best(lambda: batch_frame(con, cat, SOURCE_FILE, None), repeat)
        print(f"vectorised batch_frame: {t_new:.2f}s ({len(new)} rows, best of {repeat})")
        if "--no-old" not in argv:
            from tests.quality import old_batch_frame
            from tests.quality.test_batch_frame_vectorised import assert_same_frame

            t_old, ref = _best(lambda: old_batch_frame.batch_frame(con, cat, SOURCE_FILE, None), repeat)
            print(f"row-by-row batch_frame: {t_old:.2f}s (best of {repeat}; x{t_old / t_new:.1f})")
            assert_same_frame(new, ref)
            print("frames identical")


if __name__ == "__main__":
    main(sys.argv[1:])
