"""Markdown tables for docs/performance.md from the JSON files in bench-output/."""

from __future__ import annotations

import json
from pathlib import Path

from .pipeline import scaling

STAGE_ORDER = ["demo", "pull", "ingest", "codes", "dbt build", "data docs", "quality report", "extracts",
               "data dictionary", "startup+summary"]


def _load(path: Path) -> dict:
    rec = json.loads(path.read_text(encoding="utf-8"))
    return rec.get("result", rec)


def _mb(v) -> str:
    if v is None:
        return "—"  # not sampled
    return f"{v / 1000:.1f} GB" if v >= 1000 else f"{v} MB"


def _fail(stage: dict) -> str:
    return " (did not finish)" if stage.get("ok") is False else ""


def render_machine(m: dict) -> str:
    return (f"{m.get('nproc')} CPUs ({m.get('cpu_model')}), {m.get('ram_gb')} GB RAM, "
            f"Linux {m.get('kernel')}, Python {m.get('python')}; load average "
            f"{' / '.join(str(x) for x in m.get('loadavg_1_5_15', []))} (1/5/15 min) at the start")


def render_codes(r: dict) -> str:
    v, s = r["validation"], r["resolution"]
    cpu = v.get("cpu_s", {})
    lines = [
        f"Machine: {render_machine(r['machine'])}; load {' / '.join(map(str, r.get('loadavg_after', [])))} at the end.",
        "",
        "| validation of USCCs | codes | wall s | codes/s | vs stdnum (wall) | CPU s |",
        "|---|---:|---:|---:|---:|---:|",
        f"| `uscc_status_expr`, lazy (`.lazy().select().collect()`, CSE on) | {v['codes']:,} | {v['polars_s']} | {v['polars_per_s']:,} | {v['speedup']}× | {cpu.get('polars', '—')} |",
        f"| `uscc_status_expr`, eager `DataFrame.select` | {v['codes']:,} | {v['polars_eager_s']} | {v['polars_eager_per_s']:,} | {v['speedup_eager']}× | {cpu.get('polars_eager', '—')} |",
        f"| numpy code-point matrix (`generate.uscc_valid`, bool only) | {v['codes']:,} | {v['numpy_uscc_valid_s']} | {v['numpy_uscc_valid_per_s']:,} | {v['speedup_numpy']}× | {cpu.get('numpy', '—')} |",
        f"| python-stdnum loop (`stdnum.cn.uscc.is_valid`) | {v['codes']:,} | {v['stdnum_s']}"
        f"{' (extrapolated from ' + format(v['stdnum_sample'], ',') + ')' if v['stdnum_extrapolated'] else ''} | {v['stdnum_per_s']:,} | 1× | {cpu.get('stdnum', '—')} |",
        "",
        f"Speed-up in CPU seconds (lazy polars vs stdnum): {v.get('speedup_cpu', '—')}×.",
        "",
        f"Agreement with stdnum on valid/invalid: {v['agreement_with_stdnum']:.2%}. "
        f"Mix: {', '.join(f'{k} {n:,}' for k, n in v['corruptions'].items())}.",
        "",
        "| resolution (`resolve_subjects`) | register rows | bad references | wall s | CPU s | records/s |",
        "|---|---:|---:|---:|---:|---:|",
        f"| temp DuckDB, raw layout | {s['register_rows']:,} | {s['references']:,} | {s['resolve_s']} | {s.get('resolve_cpu_s', '—')} | {s['records_per_s']:,} |",
        "",
        "Outcomes of the references: " + ", ".join(f"{k} {n:,}" for k, n in s["reference_outcomes"].items()) + ".",
    ]
    return "\n".join(lines)


def render_pipeline(results: list[dict]) -> str:
    lines = []
    for r in sorted(results, key=lambda r: r["subjects"]):
        full = r["full"]
        rows = full["counts"]["input_rows"]
        lines += [
            f"#### {r['subjects']:,} subjects — {rows:,} input rows, {r['inbox']['files']} files, {r['inbox']['mb']} MB",
            "",
            f"Machine: {render_machine(r['machine'])}; load before/after the full run "
            f"{full['loadavg_before']} → {full['loadavg_after']}.",
            "",
            "| stage | full: s | rows/s | peak RSS | 1 % incremental: s | peak RSS | 1 % landing: s "
            "| landing, nothing new: s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        inc = r.get("incremental", {}).get("stages", {})
        land = r.get("landing", {}).get("stages", {})
        idle = r.get("landing_idle", {}).get("stages", {})
        for name in STAGE_ORDER:
            st = r["demo"] if name == "demo" else full["stages"].get(name)
            if not st:
                continue
            i = inc.get(name) if name != "demo" else None
            la = land.get(name) if name != "demo" else None
            li = idle.get(name) if name != "demo" else None
            rps = st["rows_per_s"] if name not in ("startup+summary",) else None
            if name == "demo":
                rps = st["rows_per_s"]
            lines.append(
                f"| {name} | {st['seconds']}{_fail(st)} | {f'{rps:,}' if rps else '—'} | {_mb(st['peak_rss_mb'])} | "
                f"{str(i['seconds']) + _fail(i) if i else '—'} | {_mb(i['peak_rss_mb']) if i else '—'} | "
                f"{str(la['seconds']) + _fail(la) if la else '—'} | {str(li['seconds']) + _fail(li) if li else '—'} |")
        fl = r["floor"]
        inc_rc = r.get("incremental", {}).get("returncode")
        lines.append(f"| **credit run total** | **{full['seconds']}** | {full['rows_per_s']:,} | "
                     f"{_mb(full['peak_rss_mb'])} | "
                     f"{str(r['incremental']['seconds']) + (' (stopped)' if inc_rc else '') if 'incremental' in r else '—'} | "
                     f"{_mb(r['incremental']['peak_rss_mb']) if 'incremental' in r else '—'} | "
                     f"{str(r['landing']['seconds']) + (' (stopped)' if r['landing'].get('returncode') else '') if 'landing' in r else '—'} | "
                     f"{r['landing_idle']['seconds'] if 'landing_idle' in r else '—'} |")
        lines.append(f"| floor: DuckDB `read_csv` of the {fl['files']} inbox CSVs | {fl['seconds']} | "
                     f"{fl['rows_per_s']:,} | {_mb(fl['peak_rss_mb'])} | | | | |")
        lines.append("")
        if "incremental" in r:
            b = r["increment_batch"]
            tail = (f"the re-run did not finish (stopped after {r['incremental']['seconds']} s)"
                    if r["incremental"].get("returncode") else
                    f"re-run = {r['incremental_vs_full']:.0%} of the full run")
            lines.append(f"Incremental batch: {b['files']} files, {b['new_rows']:,} new rows + "
                         f"{b['redelivered_rows']:,} re-delivered rows; {tail}.")
            ready = r["incremental"].get("marts_ready_seconds")
            if ready is not None:
                lines.append(f"The marts (and `credit lookup`) held the batch {ready} s after the re-run "
                             f"started ({ready / full['seconds']:.0%} of the full run); quality report, "
                             "extracts and data dictionary came after.")
            modes = []
            for label, key in (("code governance", "codes_build"), ("evaluation", "dbt_build")):
                m = r["incremental"].get("counts", {}).get(key)
                if m:
                    what = (f"{m.get('subjects_changed')} changed subjects logged" if key == "codes_build"
                            else f"{m.get('changed_subjects')} subjects recomputed")
                    modes.append(f"{label} {m.get('mode')} ({what}"
                                 + (f"; {m['reason']}" if m.get("reason") and m.get("mode") == "full" else "") + ")")
            if modes:
                lines.append("In the re-run: " + "; ".join(modes) + ".")
        if "landing" in r:
            b = r["landing_batch"]
            tail = (f"did not finish (stopped after {r['landing']['seconds']} s)" if r["landing"].get("returncode")
                    else f"{r['landing_vs_full']:.0%} of the full run")
            lines.append(f"Landing run (`credit run --landing`, what the inbox sensor starts: all but the "
                         f"department extracts, which follow on schedule) on a second batch of {b['files']} "
                         f"files, {b['new_rows']:,} new rows + {b['redelivered_rows']:,} re-delivered rows: "
                         f"{r['landing']['seconds']} s = {tail}.")
        if "landing_idle" in r:
            lines.append(f"The same landing run again with nothing new — its fixed costs, whatever the batch: "
                         f"{r['landing_idle']['seconds']} s = {r['landing_idle_vs_full']:.1%} of the full run.")
        lines.append("Targets: " + ", ".join(f"{k} {'✔' if v else '✘'}" for k, v in r["targets"].items()))
        lines.append("")
    sc = scaling(results)
    if sc:
        lines.append(f"Scaling exponent k (seconds ∝ rows^k) from {sc['from_rows']:,} to {sc['to_rows']:,} rows "
                     "(≤ 1 = no worse than linear; < 1 means fixed costs still dominate): "
                     + ", ".join(f"{k} {v}" for k, v in sc["exponent"].items()) + ".")
    return "\n".join(lines)


def render_markdown(out_dir: Path | str) -> str:
    out_dir = Path(out_dir)
    parts = []
    if (out_dir / "codes.json").exists():
        parts += ["### Code governance", "", render_codes(_load(out_dir / "codes.json")), ""]
    pipes = [_load(p) for p in sorted(out_dir.glob("pipeline-*.json"))]
    if pipes:
        parts += ["### Whole pipeline", "", render_pipeline(pipes), ""]
    return "\n".join(parts)
