"""The data dictionary: dbt's documentation site as one offline page.

    from pipelines.warehouse.docs import publish_dbt_docs
    publish_dbt_docs(Paths.from_env().data_dir)   # → $CREDIT_DATA_DIR/reports/dbt_docs/index.html

``publish_dbt_docs(data_dir, as_of=None) -> Path`` runs ``dbt docs generate --static``
(dbt ≥ 1.7: ``static_index.html`` with manifest and catalog built in) on the warehouse of
``data_dir`` with a *read-only* DuckDB profile (a temporary copy of ``profiles.yml`` with
``config_options: {access_mode: READ_ONLY}``: it never takes the write lock, but like any
reader it cannot open the file while a pipeline run is writing it, and blocks a run that
starts meanwhile) and a private target path (the project's ``target/`` is left alone),
then writes ``reports/dbt_docs/index.html`` plus ``manifest.json`` / ``catalog.json``.

Unchanged inputs, no work: the page is regenerated only when its inputs changed — the
dbt project's files (models, macros, tests, seeds, profiles), the columns and types
(``information_schema``) in the schemas dbt knows (its models' and sources'; tables other
stages keep elsewhere, such as ``deliver``, are not in the page), the ``as_of`` var and the
dbt version — recorded as a fingerprint next to the page, with those schemas
(``.inputs.json``; ``force=True`` regenerates anyway). A run that only adds rows skips the
~13 s of ``dbt docs generate``.

Offline: dbt's page has a Snowplow tracker that loads a script from a CDN when the
manifest says ``send_anonymous_usage_stats: true``; this project turns that off, and the
published page additionally has the loader removed and a Content-Security-Policy that
allows no network request at all (``connect-src 'none'``, no remote scripts or fonts).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ..settings import PROJECT_ROOT
from . import DBT_PROJECT_DIR, dbt_input_files

CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
       "img-src data:; font-src data:; connect-src 'none'")
TRACKER_SRC = '"//d1fc8wv8zag5ca.cloudfront.net/2.9.0/sp.js"'
TRACKING_CALL = "!0===e.track&&r.turn_on_tracking()"


def neutralise(html: str) -> str:
    """dbt's static page without its tracker loader, behind a no-network CSP."""
    html = html.replace(TRACKER_SRC, '""').replace(TRACKING_CALL, "!1")
    meta = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
    lower = html.lower()
    i = lower.find("<head>")
    if i >= 0:
        return html[: i + 6] + meta + html[i + 6:]
    return meta + html


def _dbt() -> str:
    from .dbt_main import dbt_command

    return dbt_command()


FINGERPRINT_FILE = ".inputs.json"


def inputs_fingerprint(data_dir: str | Path, as_of: str | None = None,
                       schemas: list[str] | None = None) -> str | None:
    """What the data dictionary depends on, hashed; ``schemas``: the warehouse schemas whose
    columns count (None: all). None when the warehouse cannot be read (then the page is
    generated and dbt reports the problem)."""
    import duckdb
    from dbt.version import __version__ as dbt_version

    from ..settings import Paths

    h = hashlib.sha256(f"dbt {dbt_version}\nas_of {as_of or ''}\n".encode())
    for f in dbt_input_files():
        h.update(str(f.relative_to(PROJECT_ROOT)).encode() + b"\0" + f.read_bytes() + b"\0")
    warehouse = Paths(data_dir=Path(data_dir)).warehouse
    only = "" if schemas is None else "where lower(table_schema) in (select lower(unnest(?::varchar[])))"
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            cols = con.execute(f"""select table_schema, table_name, column_name, data_type, ordinal_position
                                   from information_schema.columns {only} order by all""",
                               [] if schemas is None else [list(schemas)]).fetchall()
    except duckdb.Error:
        return None
    h.update(json.dumps(sorted(schemas) if schemas is not None else None).encode())
    h.update(json.dumps(cols, default=str).encode())
    if not as_of:
        import datetime as dt

        h.update(dt.date.today().isoformat().encode())  # the var's default: today
    return h.hexdigest()


def dbt_schemas(manifest: dict[str, Any]) -> list[str]:
    """The warehouse schemas of a dbt manifest's models, seeds, snapshots and sources: the
    ones ``dbt docs generate`` reads the catalog of."""
    found = {n["schema"] for n in manifest.get("nodes", {}).values()
             if n.get("resource_type") in ("model", "seed", "snapshot") and n.get("schema")}
    found |= {s["schema"] for s in manifest.get("sources", {}).values() if s.get("schema")}
    return sorted(found)


def _recorded(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) and isinstance(state.get("schemas"), list) else {}


def publish_dbt_docs(data_dir: str | Path, as_of: str | None = None, *, force: bool = False) -> Path:
    """Generate the dbt docs for the warehouse in ``data_dir`` (unless its inputs are
    unchanged since the page was last published); return the published page."""
    data_dir = Path(data_dir).resolve()
    out = data_dir / "reports" / "dbt_docs"
    recorded = out / FINGERPRINT_FILE
    state = _recorded(recorded)
    # The schemas recorded with the page are dbt's as long as the project is the same, and
    # when it is not, the fingerprint (of the project's files too) differs anyway.
    if (not force and state and (out / "index.html").exists()
            and inputs_fingerprint(data_dir, as_of, state["schemas"]) == state.get("fingerprint")):
        return out / "index.html"
    with tempfile.TemporaryDirectory(prefix="dbt_docs_") as tmp:
        work = Path(tmp)
        profiles = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8"))
        for profile in profiles.values():
            for target in profile.get("outputs", {}).values():
                if target.get("type") == "duckdb":
                    # dbt-duckdb's `read_only` applies to attachments only; the main file
                    # is opened read-only through DuckDB's own setting
                    target.setdefault("config_options", {})["access_mode"] = "READ_ONLY"
        (work / "profiles.yml").write_text(yaml.safe_dump(profiles, allow_unicode=True), encoding="utf-8")
        env = {**os.environ, "CREDIT_DATA_DIR": str(data_dir), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
        cmd = [_dbt(), "docs", "generate", "--static", "--project-dir", str(DBT_PROJECT_DIR),
               "--profiles-dir", str(work), "--target-path", str(work / "target"),
               "--log-path", str(work / "logs"), "--no-partial-parse", "--quiet"]
        if as_of:
            cmd += ["--vars", json.dumps({"as_of": str(as_of)})]
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=str(DBT_PROJECT_DIR))
        static = work / "target" / "static_index.html"
        if res.returncode != 0 or not static.exists():
            raise RuntimeError(f"dbt docs generate failed ({res.returncode}):\n{res.stdout[-3000:]}{res.stderr[-3000:]}")
        out.mkdir(parents=True, exist_ok=True)
        page = out / "index.html"
        page.write_text(neutralise(static.read_text(encoding="utf-8")), encoding="utf-8")
        for name in ("manifest.json", "catalog.json"):
            shutil.copyfile(work / "target" / name, out / name)
        (out / ".inputs.sha256").unlink(missing_ok=True)  # the fingerprint file before .inputs.json
        schemas = dbt_schemas(json.loads((work / "target" / "manifest.json").read_text(encoding="utf-8")))
        fingerprint = inputs_fingerprint(data_dir, as_of, schemas)
        if fingerprint is not None:
            recorded.write_text(json.dumps({"fingerprint": fingerprint, "schemas": schemas}, indent=1) + "\n",
                                encoding="utf-8")
        else:
            recorded.unlink(missing_ok=True)
    return page


def main(argv: list[str] | None = None) -> int:
    from ..settings import Paths

    print(publish_dbt_docs(Paths.from_env().data_dir, *(argv or sys.argv[1:])[:1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["publish_dbt_docs", "neutralise"]
