"""Pseudonymisation of personal identifiers (codes.md: natural persons' ID numbers never
leave the raw layer in full).

The keyed hash is an HMAC-style nested SHA-256 over hex strings so that DuckDB can
compute it vectorised with its built-in ``sha256`` (which returns lower-case hex)::

    keyed_hash(v) = sha256(okey_hex || sha256(ikey_hex || normalize_code(v)))

with ``ikey_hex`` / ``okey_hex`` the hex of the key padded to 64 bytes and XORed with
0x36 / 0x5c (the HMAC pads). :func:`keyed_hash` and :func:`keyed_hash_sql` give the same
hex for the same value; tests assert it. The key comes from ``CREDIT_PSEUDONYM_KEY`` or
a random file under ``<data_dir>/secrets/`` (mode 0600), never from the repository.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

import polars as pl

from ..settings import Paths
from ..textnorm import _FULL, _INVISIBLE  # the characters to_half_width changes
from .constants import CODE_HYPHENS, CODE_WHITESPACE
from .expr import normalize_code_expr
from .validators import code_char_map, normalize_code

KEY_ENV = "CREDIT_PSEUDONYM_KEY"
KEY_FILE = Path("secrets") / "pseudonym.key"
KEY_BYTES = 32
_BLOCK = 64
MASK_KEEP_HEAD = 4
MASK_KEEP_TAIL = 4
MASK_CHAR = "*"


def pseudonym_key(data_dir: Path | str | None = None) -> bytes:
    """The pseudonymisation key: ``$CREDIT_PSEUDONYM_KEY`` (UTF-8) if set, else the
    random key in ``<data_dir>/secrets/pseudonym.key`` (created on first use, 0600)."""
    env = os.environ.get(KEY_ENV)
    if env:
        return env.encode("utf-8")
    base = Path(data_dir) if data_dir is not None else Paths.from_env().data_dir
    path = base / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(KEY_BYTES) + "\n")
    text = path.read_text(encoding="ascii").strip()
    if not text:
        raise RuntimeError(f"{path}: 假名化密钥文件为空")
    return bytes.fromhex(text)


def _pads(key: bytes) -> tuple[str, str]:
    if not key:
        raise ValueError("假名化密钥不能为空")
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    ikey = bytes(b ^ 0x36 for b in key).hex()
    okey = bytes(b ^ 0x5C for b in key).hex()
    return ikey, okey


def keyed_hash(value: str | None, key: bytes) -> str | None:
    """Lower-case hex keyed hash of the normalised value; None for missing/empty."""
    n = normalize_code(value)
    if not n:
        return None
    ikey, okey = _pads(key)
    inner = hashlib.sha256((ikey + n).encode("utf-8")).hexdigest()
    return hashlib.sha256((okey + inner).encode("utf-8")).hexdigest()


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def normalize_code_sql(column_sql: str) -> str:
    """DuckDB SQL twin of :func:`normalize_code` (one ``translate`` over a table built
    from the scalar function itself, so the two agree character for character)."""
    domain = "".join(dict.fromkeys(
        _FULL + _INVISIBLE + list(CODE_WHITESPACE) + list(CODE_HYPHENS)
        + [chr(c) for c in range(ord("a"), ord("z") + 1)]
    ))
    table = code_char_map(domain)
    mapped = [(c, r) for c, r in table.items() if r and r != c]
    deleted = [c for c, r in table.items() if not r]
    src = "".join(c for c, _ in mapped) + "".join(deleted)
    dst = "".join(r for _, r in mapped)
    return f"translate(CAST({column_sql} AS VARCHAR), {_sql_str(src)}, {_sql_str(dst)})"


def keyed_hash_sql(column_sql: str, key: bytes) -> str:
    """A DuckDB SQL expression equal to :func:`keyed_hash` of ``column_sql``.

    The expression embeds key-derived pads: treat the SQL text as secret (do not log it).
    """
    ikey, okey = _pads(key)
    n = normalize_code_sql(column_sql)
    return (
        f"(CASE WHEN {n} IS NULL OR {n} = '' THEN NULL ELSE "
        f"sha256('{okey}' || sha256('{ikey}' || {n})) END)"
    )


def mask_id(value: str | None) -> str | None:
    """``360426199101010071`` → ``3604**********0071`` (first 4, last 4 kept)."""
    n = normalize_code(value)
    if n is None:
        return None
    keep = MASK_KEEP_HEAD + MASK_KEEP_TAIL
    if len(n) <= keep:
        return MASK_CHAR * len(n)
    return n[:MASK_KEEP_HEAD] + MASK_CHAR * (len(n) - keep) + n[-MASK_KEEP_TAIL:]


def mask_id_expr(e: pl.Expr) -> pl.Expr:
    """Vectorised :func:`mask_id`."""
    n = normalize_code_expr(e)
    length = n.str.len_chars()
    keep = MASK_KEEP_HEAD + MASK_KEEP_TAIL
    middle = n.str.slice(MASK_KEEP_HEAD, (length - keep).clip(lower_bound=0)).str.replace_all(r"(?s).", MASK_CHAR, literal=False)
    all_masked = n.str.replace_all(r"(?s).", MASK_CHAR)
    return (
        pl.when(n.is_null()).then(None)
        .when(length <= keep).then(all_masked)
        .otherwise(pl.concat_str([n.str.slice(0, MASK_KEEP_HEAD), middle, n.str.slice(-MASK_KEEP_TAIL)]))
    ).name.keep()


# --- one key per warehouse ---------------------------------------------------------

KEY_CHECK_SCHEMA = "ingest_state"
KEY_CHECK_TABLE = f"{KEY_CHECK_SCHEMA}.pseudonym_key"


class PseudonymKeyMismatch(RuntimeError):
    """The key given is not the one the warehouse's keyed hashes were computed with."""


def key_fingerprint(key: bytes) -> str:
    """A keyed hash of a constant: tells keys apart without revealing them."""
    return keyed_hash("CREDIT-PSEUDONYM-KEY-CHECK", key)  # type: ignore[return-value]


def check_pseudonym_key(con, key: bytes, data_dir: Path | str | None = None) -> None:
    """Refuse to write keyed hashes with another key than the warehouse's: the first
    writer records the key's fingerprint (``ingest_state.pseudonym_key``), every later one
    must match it. A different key (``$CREDIT_PSEUDONYM_KEY`` unset in a service, a lost
    ``secrets/pseudonym.key``) would otherwise give the same person a second pseudonym."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {KEY_CHECK_SCHEMA}")
    con.execute(f"CREATE TABLE IF NOT EXISTS {KEY_CHECK_TABLE} "
                "(fingerprint VARCHAR NOT NULL, recorded_at TIMESTAMP NOT NULL)")
    fp = key_fingerprint(key)
    row = con.execute(f"SELECT fingerprint FROM {KEY_CHECK_TABLE} ORDER BY recorded_at LIMIT 1").fetchone()
    if row is None:
        con.execute(f"INSERT INTO {KEY_CHECK_TABLE} VALUES (?, now()::TIMESTAMP)", [fp])
        return
    if row[0] != fp:
        where = Path(data_dir) / KEY_FILE if data_dir is not None else KEY_FILE
        raise PseudonymKeyMismatch(
            "假名化密钥与本仓库已使用的密钥不一致：仓库中的身份证号哈希是用另一把密钥计算的，"
            "继续写入会使同一自然人得到两个不同的标识，已停止。请设置原来的 "
            f"{KEY_ENV}，或恢复密钥文件 {where}；确需更换密钥时须重建仓库"
            "（另用一个空的数据目录重新入库）。"
        )
