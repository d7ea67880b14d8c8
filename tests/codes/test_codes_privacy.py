"""Pseudonymisation: key handling, keyed hash scalar == DuckDB SQL, masking."""

from __future__ import annotations

import random
import stat

import duckdb
import polars as pl
import pytest
from codes_testgen import random_id

from pipelines.codes.privacy import (
    KEY_ENV,
    keyed_hash,
    keyed_hash_sql,
    mask_id,
    mask_id_expr,
    normalize_code_sql,
    pseudonym_key,
)
from pipelines.codes.validators import normalize_code


def test_key_file_created_once_with_mode_0600(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    k1 = pseudonym_key(tmp_path)
    path = tmp_path / "secrets" / "pseudonym.key"
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(k1) == 32 and pseudonym_key(tmp_path) == k1
    assert pseudonym_key(tmp_path / "other") != k1


def test_key_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "s3cret")
    assert pseudonym_key(tmp_path) == b"s3cret"
    assert not (tmp_path / "secrets").exists()


def _values() -> list[str | None]:
    rng = random.Random(5)
    ids = [random_id(rng) for _ in range(2000)]
    messy = [" " + i[:6] + "-" + i[6:].lower() + "\u3000" for i in ids[:200]]
    full = ["".join(chr(ord(c) + 0xFEE0) for c in i) for i in ids[200:300]]
    odd = ["", "  ", None, "x'y", "ａ－ｂ\u200b", "Ünïcode ß", "中文名称（有限公司）", "O'Brien"]
    return ids + messy + full + odd


@pytest.mark.parametrize("key", [b"k", bytes(range(32)), b"x" * 100])
def test_keyed_hash_scalar_equals_sql(key):
    values = _values()
    con = duckdb.connect()
    t = pl.DataFrame({"i": range(len(values)), "v": values}, schema={"i": pl.Int64, "v": pl.String})
    con.register("t", t)
    rows = con.execute(
        f"SELECT {normalize_code_sql('v')}, {keyed_hash_sql('v', key)} FROM t ORDER BY i"
    ).fetchall()
    assert [r[0] for r in rows] == [normalize_code(v) for v in values]
    assert [r[1] for r in rows] == [keyed_hash(v, key) for v in values]


def test_keyed_hash_properties():
    k = b"key"
    h = keyed_hash("360426199101010071", k)
    assert h is not None and len(h) == 64 and int(h, 16) >= 0
    assert keyed_hash(" 360426-199101010071 ", k) == h
    assert keyed_hash("360426199101010071", b"other") != h
    assert keyed_hash(None, k) is None and keyed_hash(" ", k) is None


def test_mask():
    assert mask_id("360426199101010071") == "3604**********0071"
    assert mask_id("44011320141005001x") == "4401**********001X"
    assert mask_id("1234") == "****" and mask_id(None) is None
    values = ["360426199101010071", "12345678", "123456789", "", None, " 4401-1320141005001x"]
    got = pl.DataFrame({"c": values}).select(mask_id_expr(pl.col("c")))["c"].to_list()
    assert got == [mask_id(v) for v in values]
