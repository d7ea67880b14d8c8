"""Find delivered files: ``inbox/<department_code>/<batch>/<file>``.

File-level problems are found here without reading the file: ``unknown_department``,
``bad_batch`` (not a date, or a file outside a batch folder), ``unknown_category``,
``unsupported_format``. Files are returned in delivery order (batch_date, batch, path).
Hidden files and folders (``.name``, e.g. a pull in progress) are ignored.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from ..catalogue import Catalogue, Category

SUPPORTED_FORMATS = ("csv", "xlsx", "json")
_BATCH_RE = re.compile(r"^(?:(\d{4})(\d{2})(\d{2})|(\d{4})-(\d{2})-(\d{2}))(?:_(.+))?$")


@dataclass(frozen=True)
class FileProblem:
    rule: str  # rule id (docs/architecture.md)
    reason: str  # Chinese


@dataclass(frozen=True)
class InboxFile:
    path: Path
    source_file: str  # relative to the inbox, POSIX separators
    department_code: str
    batch: str
    batch_date: dt.date | None
    category: Category | None
    file_format: str
    problem: FileProblem | None = None

    @property
    def category_id(self) -> str | None:
        return self.category.id if self.category else None

    @property
    def order_key(self) -> tuple:
        return (self.batch_date or dt.date.min, self.batch, self.source_file)


def parse_batch(batch: str) -> dt.date | None:
    """``20261103``, ``2026-11-03``, ``20261103_2`` → the date; None if not a real date."""
    m = _BATCH_RE.match(batch)
    if not m:
        return None
    y, mo, d = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(4), m.group(5), m.group(6))
    try:
        return dt.date(int(y), int(mo), int(d))
    except ValueError:
        return None


def category_from_stem(stem: str, catalogue: Catalogue) -> Category | None:
    """``admin_penalty``, ``行政处罚``, ``行政处罚_11月``, ``admin_penalty_v2`` → the category
    (the longest ``_``-prefix of the stem that names a category)."""
    parts = stem.strip().split("_")
    for n in range(len(parts), 0, -1):
        cat = catalogue.category("_".join(parts[:n]).strip())
        if cat is not None:
            return cat
    return None


def classify(path: Path, inbox: Path, catalogue: Catalogue) -> InboxFile:
    rel = path.relative_to(inbox)
    parts = rel.parts
    source_file = rel.as_posix()
    ext = path.suffix.lower().lstrip(".")
    dept = parts[0] if len(parts) > 1 else ""
    batch = parts[1] if len(parts) > 2 else ""
    batch_date = parse_batch(batch) if batch else None
    category = category_from_stem(path.stem, catalogue)
    problem: FileProblem | None = None
    if len(parts) != 3:
        problem = FileProblem("bad_batch", f"文件不在「部门/批次/文件」目录结构中：{source_file}")
    elif dept not in catalogue.departments:
        problem = FileProblem("unknown_department", f"未知的报送部门：{dept}")
    elif batch_date is None:
        problem = FileProblem("bad_batch", f"批次目录名不是有效日期（应为 YYYYMMDD 或 YYYY-MM-DD）：{batch}")
    elif ext not in SUPPORTED_FORMATS:
        problem = FileProblem("unsupported_format", f"不支持的文件格式：{path.suffix or '（无扩展名）'}（仅支持 csv、xlsx、json）")
    elif category is None:
        problem = FileProblem("unknown_category", f"无法从文件名识别信息类别：{path.name}")
    return InboxFile(
        path=path,
        source_file=source_file,
        department_code=dept,
        batch=batch,
        batch_date=batch_date,
        category=category,
        file_format=ext,
        problem=problem,
    )


def discover(inbox: Path, catalogue: Catalogue) -> list[InboxFile]:
    """Every delivered file under ``inbox``, classified, in delivery order."""
    inbox = Path(inbox)
    if not inbox.is_dir():
        return []
    files = []
    for p in inbox.rglob("*"):
        rel = p.relative_to(inbox)
        if any(part.startswith(".") or part.startswith("~$") for part in rel.parts):
            continue
        if p.is_file():
            files.append(classify(p, inbox, catalogue))
    files.sort(key=lambda f: f.order_key)
    return files
