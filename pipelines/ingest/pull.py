"""Collect new batches from each department's ``source.url`` into the inbox.

``source.url`` is any fsspec URL (a local folder by default, ``{data_dir}`` expanded).
A batch folder is pulled once: it is copied to ``inbox/<dept>/.<batch>.pulling-<pid>``
and renamed to ``inbox/<dept>/<batch>`` when complete, so the inbox never shows a
half-copied batch. A missing source folder is not an error (nothing to pull).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

import fsspec

from ..catalogue import Catalogue
from ..settings import Paths


@dataclass
class PulledBatch:
    department_code: str
    batch: str
    source: str
    files: list[str] = field(default_factory=list)  # relative to the inbox


def _basename(p: str) -> str:
    return p.rstrip("/").rsplit("/", 1)[-1]


def pull_sources(paths: Paths, catalogue: Catalogue) -> list[PulledBatch]:
    """Copy batches present at the sources but not yet in the inbox; return them."""
    pulled: list[PulledBatch] = []
    for dept in catalogue.departments.values():
        url = dept.source_url(paths.data_dir)
        if not url:
            continue
        fs, root = fsspec.core.url_to_fs(url)
        try:
            if not fs.isdir(root):
                continue
            entries = fs.ls(root, detail=True)
        except (FileNotFoundError, NotADirectoryError):
            continue
        dest_dept = paths.inbox / dept.code
        for entry in sorted(entries, key=lambda e: e["name"]):
            if entry.get("type") != "directory":
                continue
            batch = _basename(entry["name"])
            if batch.startswith("."):
                continue
            target = dest_dept / batch
            if target.exists():
                continue
            dest_dept.mkdir(parents=True, exist_ok=True)
            tmp = dest_dept / f".{batch}.pulling-{os.getpid()}"
            if tmp.exists():
                shutil.rmtree(tmp)
            tmp.mkdir()
            files: list[str] = []
            try:
                base = entry["name"].rstrip("/")
                for src in sorted(fs.find(base)):
                    rel = src[len(base):].lstrip("/")
                    if not rel or any(part.startswith(".") for part in rel.split("/")):
                        continue
                    out = tmp / rel
                    out.parent.mkdir(parents=True, exist_ok=True)
                    with fs.open(src, "rb") as fi, open(out, "wb") as fo:
                        shutil.copyfileobj(fi, fo, 1 << 20)
                    files.append(f"{dept.code}/{batch}/{rel}")
                os.replace(tmp, target)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            pulled.append(PulledBatch(dept.code, batch, f"{url.rstrip('/')}/{batch}", files))
    return pulled


__all__ = ["PulledBatch", "pull_sources"]
