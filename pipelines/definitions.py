"""The Dagster code location: every module of ``pipelines/defs/`` merged into one
``Definitions``. A stage is added by adding a module there (see ``pipelines/defs/__init__``)."""

from __future__ import annotations

import importlib
import pkgutil
import warnings
from types import ModuleType

import dagster as dg

import pipelines.defs as defs_package


def stage_modules() -> list[ModuleType]:
    """Every module (or sub-package) of ``pipelines.defs``, in name order, except
    private ones (``_name``)."""
    mods = []
    for info in sorted(pkgutil.iter_modules(defs_package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mods.append(importlib.import_module(f"{defs_package.__name__}.{info.name}"))
    return mods


def module_defs(module: ModuleType) -> dg.Definitions:
    """A module's ``defs`` (a ``Definitions`` or a function returning one); otherwise
    the Dagster objects defined at its top level."""
    d = getattr(module, "defs", None)
    if callable(d) and not isinstance(d, dg.Definitions):
        d = d()
    if isinstance(d, dg.Definitions):
        return d
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dg.load_definitions_from_module(module)


def build_definitions() -> dg.Definitions:
    return dg.Definitions.merge(*(module_defs(m) for m in stage_modules()))


defs = build_definitions()
