"""Warehouse helpers around the dbt project: generated dbt sources, `credit lookup`."""

from pathlib import Path

from ..settings import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
# What the dbt project is made of: a change here makes the manifest stale (defs/transform.py)
# and the data dictionary out of date (docs.py). Seeds live in catalogs/.
_DBT_INPUTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "tests", "seeds")
_SEED_DIRS = ("scoring", "publicity", "sampling")
_SUFFIXES = (".sql", ".yml", ".yaml", ".csv")


def dbt_input_files() -> list[Path]:
    """The dbt project's own files (models, macros, tests, config) and its seeds in
    ``catalogs/``, sorted."""
    roots = [DBT_PROJECT_DIR / p for p in _DBT_INPUTS] + [PROJECT_ROOT / "catalogs" / d for d in _SEED_DIRS]
    files: list[Path] = []
    for root in roots:
        if root.is_file():
            files.append(root)
        elif root.is_dir():
            files += [f for f in root.rglob("*") if f.is_file() and f.suffix in _SUFFIXES]
    return sorted(files)
