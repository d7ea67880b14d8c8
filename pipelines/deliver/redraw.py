"""``credit redraw --department D --period P``: recompute a published draw from its
seed, period and codes — with the plain-Python recipe (``recipe.py``), independently
of dbt — and say whether the published list matches, and which rows differ.

Also checked: the recorded inputs still hash to their recorded fingerprint (nobody
edited them after publication), the seed is the one published in
``catalogs/sampling/sampling_seeds.csv``, and the recorded sample sizes follow from
the recorded populations and ratios."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from pipelines.settings import catalog_dir

from . import publish, recipe

COMPARED = ("grade", "draw_rank", "draw_key", "inspector_1_badge_no", "inspector_2_badge_no")


@dataclass
class RowDiff:
    subject_id: str
    kind: str                      # "missing" (redrawn, not published) | "unexpected" | "changed"
    published: dict[str, Any] | None = None
    redrawn: dict[str, Any] | None = None

    def __str__(self) -> str:
        if self.kind == "missing":
            return f"{self.subject_id}: drawn by the recipe but absent from the published list"
        if self.kind == "unexpected":
            return f"{self.subject_id}: in the published list but not drawn by the recipe"
        diffs = [f"{k} {self.published.get(k)!r} ≠ {self.redrawn.get(k)!r}"
                 for k in COMPARED if self.published.get(k) != self.redrawn.get(k)]
        return f"{self.subject_id}: " + "; ".join(diffs)


@dataclass
class RedrawResult:
    department_code: str
    period: str
    version: int | None
    seed: str | None
    published_rows: int = 0
    redrawn_rows: int = 0
    differences: list[RowDiff] = field(default_factory=list)
    inputs_intact: bool = True
    seed_published: bool | None = None   # None: no seed recorded for the period in the catalogue
    sizes_consistent: bool = True
    recipe_recorded: str | None = None   # the recipe the draw was published with
    found: bool = True

    @property
    def matches(self) -> bool:
        return (self.found and not self.differences and self.inputs_intact
                and self.seed_published is not False and self.sizes_consistent)

    def summary(self) -> str:
        if not self.found:
            return f"{self.department_code} {self.period}: no published draw"
        head = (f"{self.department_code} {self.period} v{self.version} (seed {self.seed}): "
                f"{self.published_rows} published, {self.redrawn_rows} redrawn — "
                + ("MATCHES" if self.matches else "DOES NOT MATCH"))
        lines = [head]
        if not self.inputs_intact:
            lines.append("  recorded inputs do not hash to their recorded fingerprint (edited after publication)")
        if self.seed_published is False:
            lines.append("  the seed differs from catalogs/sampling/sampling_seeds.csv")
        if not self.sizes_consistent:
            lines.append("  recorded sample sizes do not follow from population × ratio")
        if self.recipe_recorded is not None and self.recipe_recorded != recipe.RECIPE:
            lines.append(f"  published with another recipe ({self.recipe_recorded}); "
                         f"re-drawn with the current one ({recipe.RECIPE})")
        lines += [f"  {d}" for d in self.differences]
        return "\n".join(lines)


def catalogue_seed(period: str, seeds_csv: Path | None = None) -> str | None:
    path = seeds_csv or catalog_dir() / "sampling" / "sampling_seeds.csv"
    if not path.exists():
        return None
    with path.open(encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            if row.get("period", "").strip() == period:
                return row.get("seed", "").strip() or None
    return None


def redraw(con: duckdb.DuckDBPyConnection, department: str, period: str, version: int | None = None,
           *, seeds_csv: Path | None = None) -> RedrawResult:
    """Recompute the published draw of ``department`` for ``period`` (the latest version,
    or ``version``) and compare it with the published list. Read-only."""
    has_table = con.execute("""select count(*) from information_schema.tables
        where table_schema = 'deliver' and table_name = 'published_draws'""").fetchall()[0][0]
    rec = None
    if has_table:
        q = "select * from deliver.published_draws where department_code = ? and period = ?"
        params: list[Any] = [department, period]
        if version is not None:
            q += " and version = ?"
            params.append(version)
        rows = publish._dicts(con, q + " order by version desc limit 1", params)
        rec = rows[0] if rows else None
    if rec is None:
        return RedrawResult(department, period, version, None, found=False)

    inputs = json.loads(rec["inputs"]) if isinstance(rec["inputs"], str) else rec["inputs"]
    result = RedrawResult(department, period, rec["version"], rec["seed"],
                          recipe_recorded=inputs.get("recipe"))
    result.inputs_intact = (publish.fingerprint(inputs) == rec["inputs_fingerprint"]
                            and inputs.get("seed") == rec["seed"] and inputs.get("period") == period
                            and inputs.get("department_code") == department)
    cat_seed = catalogue_seed(period, seeds_csv)
    result.seed_published = None if cat_seed is None else cat_seed == rec["seed"]
    sizes = {}
    for s in inputs["strata"]:
        sizes[s["grade"]] = s["sample_size"]
        if recipe.sample_size(s["population"], s["eligible"], s["ratio"], s["minimum"]) != s["sample_size"]:
            result.sizes_consistent = False

    drawn = recipe.draw(rec["seed"], period, department, inputs["candidates"], sizes, inputs["roster"])
    redrawn = {d.subject_id: {k: getattr(d, k) for k in COMPARED} for d in drawn}
    pub = {r["subject_id"]: r for r in publish.published_rows(con, department, period, rec["version"])}
    result.published_rows, result.redrawn_rows = len(pub), len(redrawn)
    for sid in sorted(set(pub) | set(redrawn)):
        p, r = pub.get(sid), redrawn.get(sid)
        if p is None:
            result.differences.append(RowDiff(sid, "missing", None, r))
        elif r is None:
            result.differences.append(RowDiff(sid, "unexpected", {k: p.get(k) for k in COMPARED}, None))
        elif any(p.get(k) != r[k] for k in COMPARED):
            result.differences.append(RowDiff(sid, "changed", {k: p.get(k) for k in COMPARED}, r))
    return result


def redraw_cli(department: str, period: str, version: int | None = None,
               warehouse: Path | None = None) -> int:
    """For ``credit redraw``: print the comparison; exit code 0 when it matches, 1 when it
    does not, 2 when nothing was published for that department and period."""
    from pipelines.settings import Paths

    path = warehouse or Paths.from_env().warehouse
    con = duckdb.connect(str(path), read_only=True)
    try:
        result = redraw(con, department, period, version)
    finally:
        con.close()
    print(result.summary())
    if not result.found:
        return 2
    return 0 if result.matches else 1
