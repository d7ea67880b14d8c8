"""`credit demo-data`: plan the files, write the inbox and the ground truth."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from .inject import ErrorRates, Injector
from .records import Gen, generate_records
from .world import World, build_world

DEFAULT_AS_OF = dt.date(2026, 11, 1)
XLSX_MAX_ROWS = 2500
LOADED_VARIANTS = ["encoding_utf8_bom", "encoding_gb18030", "xlsx", "xlsx_blank_first_row", "json",
                   "header_code", "header_alias", "header_messy", "column_order", "extra_columns"]
BAD_FILES = {  # error class → (expected status, rule id)
    "duplicate_file": ("duplicate_file", None),
    "missing_column": ("rejected_file", "missing_column"),
    "unreadable_xlsx": ("rejected_file", "unreadable"),
    "unreadable_csv": ("rejected_file", "unreadable"),
    "empty": ("rejected_file", "empty"),
    "unknown_department": ("rejected_file", "unknown_department"),
    "unknown_category": ("rejected_file", "unknown_category"),
    "bad_batch": ("rejected_file", "bad_batch"),
    "unsupported_format": ("rejected_file", "unsupported_format"),
}
EXTRA_COLUMNS = ["序号", "录入人", "更新时间"]
_EPOCH_XL = dt.date(1899, 12, 30)


@dataclass
class DemoReport:
    data_dir: Path
    files: list[str] = field(default_factory=list)  # relative to the inbox
    rows_by_category: dict[str, int] = field(default_factory=dict)
    subjects: int = 0
    elapsed: float = 0.0

    @property
    def files_written(self) -> int:
        return len(self.files)


@dataclass
class Unit:
    dept: str
    batch: int
    category: str
    df: pl.DataFrame
    variant: str | None = None
    name: str | None = None
    status: str = "loaded"
    rule: str | None = None
    file_err: str | None = None


# --------------------------------------------------------------------------- writing
def _headers(cat, cols: list[str], style: str | None, rng: np.random.Generator) -> list[str]:
    out = []
    for c in cols:
        f = cat.by_name[c]
        h = f.label
        if style == "header_code" and f.code:
            h = f.code
        elif style == "header_alias" and f.aliases:
            h = f.aliases[0]
        elif style == "header_messy":
            r = rng.integers(0, 4)
            h = [f" {h} ", h.replace("（", "(").replace("）", ")"), h + "\u3000", "  " + h][r]
            if f.code and rng.random() < 0.3:
                h = f.code.translate(str.maketrans({chr(i): chr(i + 0xFEE0) for i in range(0x21, 0x7F)}))
        out.append(h)
    return out


def _csv_bytes(frame: pl.DataFrame, encoding: str) -> bytes:
    text = frame.write_csv(null_value="", quote_style="necessary",
                           line_terminator="\r\n" if encoding == "gb18030" else "\n")
    if encoding == "utf-8-sig":
        return b"\xef\xbb\xbf" + text.encode("utf-8")
    return text.encode(encoding)


def _xlsx(path: Path, cat, cols: list[str], headers: list[str], df: pl.DataFrame, blank_first: bool) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                         "strings_to_formulas": False, "strings_to_urls": False})
    wb.set_properties({"created": dt.datetime(2026, 1, 1), "author": "demo"})
    ws = wb.add_worksheet("Sheet1")
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    r0 = 1 if blank_first else 0
    if blank_first:
        ws.write_blank(0, 0, None)
    for j, h in enumerate(headers):
        ws.write_string(r0, j, h)
    types = [cat.by_name[c].type for c in cols]
    excel_float = df["_cproblem"].eq("code_excel_float").fill_null(False).to_list()
    data = df.select(cols).rows()
    for i, row in enumerate(data):
        r = r0 + 1 + i
        for j, v in enumerate(row):
            if v is None:
                continue
            t = types[j]
            if t == "date" and len(v) == 10 and v[4] == "-" and v[7] == "-":
                try:
                    ws.write_datetime(r, j, dt.datetime.strptime(v, "%Y-%m-%d"), date_fmt)
                    continue
                except ValueError:
                    pass
            if (t == "money" or t == "int") and _is_number(v):
                ws.write_number(r, j, float(v))
            elif cols[j] == "uscc" and excel_float[i]:
                ws.write_number(r, j, float(v))
            else:
                ws.write_string(r, j, v)
    wb.close()


def _is_number(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


class Writer:
    def __init__(self, inbox: Path, catalogue, world: World, rng: np.random.Generator):
        self.inbox = inbox
        self.cat = catalogue
        self.w = world
        self.rng = rng
        self.files: list[dict] = []
        self.rows: list[pl.DataFrame] = []
        self.codes: list[pl.DataFrame] = []

    def rel(self, dept: str, batch: str, name: str) -> str:
        return f"{dept}/{batch}/{name}"

    def write_unit(self, u: Unit) -> str:
        cat = self.cat.categories[u.category]
        cols = [f.name for f in cat.fields if f.name in u.df.columns]
        if u.variant == "missing_column":
            req = [f.name for f in cat.required_fields if f.name in cols]
            cols = [c for c in cols if c != req[min(1, len(req) - 1)]]
        ext = "xlsx" if u.variant in ("xlsx", "xlsx_blank_first_row") else "json" if u.variant == "json" else "csv"
        rel = self.rel(u.dept, self.w.batches[u.batch].name, f"{u.name}.{ext}")
        path = self.inbox / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        headers = _headers(cat, cols, u.variant, self.rng)
        order = list(range(len(cols)))
        if u.variant == "column_order":
            order = self.rng.permutation(len(cols)).tolist()
        frame = u.df.select(cols)
        frame.columns = [f"{i}\x00{h}" for i, h in enumerate(headers)]  # unique while renaming
        frame = frame.select([frame.columns[i] for i in order])
        if u.variant == "extra_columns":
            n = frame.height
            frame = frame.with_columns(
                pl.Series("序号", np.arange(1, n + 1).astype(str)),
                pl.lit("张录入").alias("录入人"),
                pl.lit(f"{self.w.batches[u.batch].date.isoformat()} 09:30:00").alias("更新时间"),
            )
        frame.columns = [c.split("\x00", 1)[-1] for c in frame.columns]
        if ext == "xlsx":
            hdr = frame.columns
            ocols = [cols[i] for i in order]
            _xlsx(path, cat, ocols, hdr[: len(ocols)], u.df, u.variant == "xlsx_blank_first_row")
            encoding = None
        elif ext == "json":
            path.write_text(frame.write_json(), encoding="utf-8")
            encoding = "utf-8"
        else:
            encoding = {"encoding_utf8_bom": "utf-8-sig", "encoding_gb18030": "gb18030"}.get(u.variant or "", "utf-8")
            path.write_bytes(_csv_bytes(frame, encoding))
        self.record(u, rel, ext, encoding, frame.height)
        return rel

    def record(self, u: Unit, rel: str, ext: str, encoding: str | None, n: int) -> None:
        self.files.append({"source_file": rel, "expected_status": u.status, "error_class": u.file_err or u.variant,
                           "expected_rule": u.rule, "department_code": u.dept, "category": u.category,
                           "batch": self.w.batches[u.batch].name if u.batch >= 0 else None, "file_format": ext,
                           "encoding": encoding, "rows": n})
        if n == 0:
            return
        df = u.df
        if u.status == "rejected_file" and u.rule == "missing_column":
            rows = pl.DataFrame({"expected_outcome": ["rejected"] * n, "error_class": ["missing_column"] * n,
                                 "expected_rule": ["missing_column"] * n})
        elif u.status == "duplicate_file":
            rows = pl.DataFrame({"expected_outcome": ["duplicate"] * n, "error_class": ["duplicate_file"] * n,
                                 "expected_rule": pl.Series([None] * n, dtype=pl.String)})
        else:
            rows = df.select(pl.col("_outcome").alias("expected_outcome"), pl.col("_err").alias("error_class"),
                             pl.col("_rule").alias("expected_rule"))
            codes = df.with_row_index("source_row", 1).filter(pl.col("_cproblem").is_not_null())
            if codes.height:
                self.codes.append(codes.select(
                    pl.lit(rel).alias("source_file"), pl.col("source_row").cast(pl.Int64),
                    pl.col("_cfield").alias("field"), pl.col("_corig").alias("original_value"),
                    pl.col("_ctrue").alias("true_uscc"), pl.col("_cproblem").alias("problem"),
                    pl.col("_cstatus").alias("expected_status"), pl.col("_cmethod").alias("expected_method"),
                    pl.lit(u.category).alias("category"), pl.lit(u.dept).alias("department_code")))
        self.rows.append(rows.with_columns(
            pl.lit(rel).alias("source_file"), pl.int_range(1, n + 1, dtype=pl.Int64).alias("source_row"),
            pl.lit(u.category).alias("category"), pl.lit(u.dept).alias("department_code"),
        ).select("source_file", "source_row", "expected_outcome", "error_class", "expected_rule", "category",
                 "department_code"))

    def raw(self, rel: str, data: bytes, err: str, status: str, rule: str | None, dept: str, category: str | None) -> None:
        path = self.inbox / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.files.append({"source_file": rel, "expected_status": status, "error_class": err, "expected_rule": rule,
                           "department_code": dept, "category": category, "batch": rel.split("/")[1],
                           "file_format": rel.rsplit(".", 1)[-1], "encoding": None, "rows": 0})


# --------------------------------------------------------------------------- planning
def _file_name(cat, rng: np.random.Generator, batch) -> str:
    r = rng.random()
    if not batch.regular:
        return f"{cat.name}_更正"
    if r < 0.45:
        return cat.id
    if r < 0.8:
        return cat.name
    return f"{cat.name}_{batch.date.month}月"


def _source_block(df: pl.DataFrame, world: World) -> pl.DataFrame:
    names = {d: i["name"] for d, i in world.depts.items()}
    usccs = {d: i["uscc"] for d, i in world.depts.items()}
    return df.with_columns(
        pl.col("_dept").replace_strict(names, return_dtype=pl.String).alias("source_dept"),
        pl.col("_dept").replace_strict(usccs, return_dtype=pl.String).alias("source_dept_uscc"),
    )


def _clear_previous(data_dir: Path) -> None:
    inbox, truth = data_dir / "inbox", data_dir / "demo_truth"
    manifest = truth / "manifest.json"
    previous = set(json.loads(manifest.read_text())["files"]) if manifest.exists() else set()
    if inbox.exists():
        present = {p.relative_to(inbox).as_posix() for p in inbox.rglob("*") if p.is_file()}
        foreign = present - previous
        if foreign:
            raise FileExistsError(
                f"{inbox} holds files not written by demo-data (e.g. {sorted(foreign)[0]}); refusing to overwrite")
        shutil.rmtree(inbox)
    if truth.exists():
        shutil.rmtree(truth)


def generate_demo(data_dir: Path, subjects: int = 2000, seed: int = 42, *, batches: int = 3,
                  error_rate: float = 0.03, as_of: dt.date | None = None, catalogue=None,
                  rates: ErrorRates | None = None, activity: float = 1.0) -> DemoReport:
    """Write a synthetic inbox (``<data_dir>/inbox/<dept>/<batch>/<file>``) and its ground
    truth (``<data_dir>/demo_truth/*.parquet``). Deterministic for a seed. ``activity``
    scales the routine records per subject (see :func:`generate_records`)."""
    t0 = time.perf_counter()
    if catalogue is None:
        from ..catalogue import load_catalogue

        catalogue = load_catalogue()
    data_dir = Path(data_dir)
    as_of = as_of or DEFAULT_AS_OF
    rates = rates or ErrorRates.spread(error_rate)
    rng = np.random.default_rng(seed)
    n_pairs = lambda r: int(max(1, round(r * subjects))) if r > 0 else 0  # noqa: E731
    world = build_world(rng, subjects, as_of, batches, multi_code_pairs=n_pairs(rates.multiple_codes),
                        dup_code_pairs=n_pairs(rates.duplicate_code), depts=list(catalogue.departments))
    cats = generate_records(world, rng, catalogue, activity)
    cats = {k: _source_block(v, world) for k, v in cats.items()}
    cats = Injector(world, rng, cats, rates, catalogue).run()

    # ---- units: one file per (department, category, batch)
    units: list[Unit] = []
    for k in sorted(cats):
        df = cats[k]
        for (dept, b), part in df.group_by(["_dept", "_batch"], maintain_order=True):
            units.append(Unit(dept, int(b), k, part))
    units.sort(key=lambda u: (u.batch, u.dept, u.category))
    for u in units:
        u.name = _file_name(catalogue.categories[u.category], rng, world.batches[u.batch])

    # ---- loaded variants (one per file)
    n_var = int(max(1, round(rates.files_variant * len(units)))) if rates.files_variant > 0 else 0
    free = [i for i in range(len(units))]
    extra: list[Unit] = []
    for v in LOADED_VARIANTS if n_var else []:
        ok = [i for i in free if v != "header_code" or catalogue.categories[units[i].category].field_code_prefix]
        if v == "header_alias":
            ok = [i for i in ok if any(catalogue.categories[units[i].category].by_name[c].aliases
                                       for c in units[i].df.columns if c in catalogue.categories[units[i].category].by_name)]
        if not ok:
            continue
        # small files first for the slow XLSX writer
        if v.startswith("xlsx"):
            ok = sorted(ok, key=lambda i: units[i].df.height)[: max(n_var * 3, 3)]
        pick = rng.choice(len(ok), min(n_var, len(ok)), replace=False)
        for p in sorted(pick.tolist()):
            i = ok[p]
            free.remove(i)
            u = units[i]
            if v.startswith("xlsx") and u.df.height > XLSX_MAX_ROWS:
                head, rest = u.df.head(XLSX_MAX_ROWS), u.df.slice(XLSX_MAX_ROWS)
                extra.append(Unit(u.dept, u.batch, u.category, head, v, f"{u.name}_1"))
                u.df = rest
            else:
                u.variant = v
    units.extend(extra)

    # ---- a category delivered by a department that does not submit it
    submits = {d.code: list(d.submits) for d in catalogue.departments.values()}
    regular = world.regular_batches
    if rates.bad_files > 0:
        outsider = next((d for d in submits if "inspection" not in submits[d]), None)
        if outsider:
            g = Gen(world, rng, submits)
            g.seq = 900000
            k = max(3, min(50, subjects // 200))
            df = g._inspection(outsider, k).with_columns(pl.lit(regular[-1]).cast(pl.Int64).alias("_batch"))
            df = _source_block(df, world).with_columns(
                pl.lit("category_not_submitted").alias("_err"), pl.lit("loaded").alias("_outcome"),
                pl.lit(None, dtype=pl.String).alias("_rule"), pl.lit(None, dtype=pl.String).alias("_cproblem"))
            units.append(Unit(outsider, regular[-1], "inspection", df, None, "行政检查", file_err="category_not_submitted"))

    # ---- write
    inbox = data_dir / "inbox"
    _clear_previous(data_dir)
    inbox.mkdir(parents=True, exist_ok=True)
    writer = Writer(inbox, catalogue, world, rng)
    written: dict[int, str] = {}
    for i, u in enumerate(units):
        written[i] = writer.write_unit(u)

    # ---- broken files
    nb = rates.bad_files
    last = world.batches[regular[-1]].name
    first = world.batches[0].name
    plain = [i for i, u in enumerate(units) if u.variant is None and u.file_err is None and u.batch < regular[-1]
             and u.df.height >= 2]
    if not plain:  # every earlier file has a format variant: re-deliver one of those
        plain = [i for i, u in enumerate(units) if u.file_err is None and u.batch < regular[-1]
                 and u.df.height >= 2 and i in written]
    plain.sort(key=lambda i: units[i].df.height)
    for j in range(nb):
        tag = "" if j == 0 else f"_{j + 1}"
        if plain:
            # byte-identical re-delivery of an earlier file in a later batch
            src = units[plain[j % len(plain)]]
            rel = written[plain[j % len(plain)]]
            dst = f"{src.dept}/{last}/{Path(rel).stem}{tag}{Path(rel).suffix}"
            if (inbox / dst).exists():
                dst = f"{src.dept}/{last}/{Path(rel).stem}_重发{tag}{Path(rel).suffix}"
            if dst != rel and not (inbox / dst).exists():
                (inbox / dst).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(inbox / rel, inbox / dst)
                writer.record(Unit(src.dept, regular[-1], src.category, src.df, status="duplicate_file",
                                   file_err="duplicate_file"), dst, Path(dst).suffix[1:], "utf-8", src.df.height)
            # a file missing a required column
            mc = Unit(src.dept, regular[-1], src.category, src.df.head(min(20, src.df.height)), "missing_column",
                      f"{catalogue.categories[src.category].name}_补报{tag}", status="rejected_file",
                      rule="missing_column", file_err="missing_column")
            writer.write_unit(mc)
            sample = _csv_bytes(src.df.head(5).select(
                [f.name for f in catalogue.categories[src.category].fields if f.name in src.df.columns]), "utf-8")
        else:  # pragma: no cover - tiny worlds only
            sample = "行政相对人名称\n甲\n".encode()
        pen = catalogue.categories.get("admin_penalty")
        pen_name = pen.name if pen else "行政处罚"
        xlsx_src = next((r for r in written.values() if r.endswith(".xlsx")), None)
        garbage = (inbox / xlsx_src).read_bytes()[:300] if xlsx_src else b"PK\x03\x04" + bytes(200)
        rnd = np.random.default_rng(seed + 7 + j).integers(0, 256, 512, dtype=np.uint8).tobytes()
        writer.raw(f"sthj/{first}/{pen_name}_扫描件{tag}.xlsx", garbage, "unreadable_xlsx", "rejected_file", "unreadable",
                   "sthj", "admin_penalty")
        writer.raw(f"yjgl/{first}/{pen_name}_导出{tag}.csv", b"\x00\x01\xff\xfe" + rnd, "unreadable_csv", "rejected_file",
                   "unreadable", "yjgl", "admin_penalty")
        hon = catalogue.categories.get("honor")
        header_only = ",".join(f.label for f in hon.fields if f.required or f.name in ("subject_kind", "uscc")) + "\n"
        writer.raw(f"zjj/{last}/{hon.name}_无数据{tag}.csv", header_only.encode("utf-8"), "empty", "rejected_file", "empty",
                   "zjj", "honor")
        writer.raw(f"wjw/{last}/{pen_name}{tag}.csv", sample, "unknown_department", "rejected_file", "unknown_department",
                   "wjw", "admin_penalty")
        writer.raw(f"scjg/{last}/企业年报抽查明细{tag}.csv", sample, "unknown_category", "rejected_file", "unknown_category",
                   "scjg", None)
        writer.raw(f"scjg/最新数据{tag}/{pen_name}.csv", sample, "bad_batch", "rejected_file", "bad_batch", "scjg",
                   "admin_penalty")
        writer.raw(f"scjg/{last}/{pen_name}{tag}.xls", sample, "unsupported_format", "rejected_file",
                   "unsupported_format", "scjg", "admin_penalty")

    # ---- truth
    truth = data_dir / "demo_truth"
    truth.mkdir(parents=True, exist_ok=True)
    files = pl.DataFrame(writer.files, schema={
        "source_file": pl.String, "expected_status": pl.String, "error_class": pl.String, "expected_rule": pl.String,
        "department_code": pl.String, "category": pl.String, "batch": pl.String, "file_format": pl.String,
        "encoding": pl.String, "rows": pl.Int64}).sort("source_file")
    rows = pl.concat(writer.rows).sort("source_file", "source_row")
    code_schema = {"source_file": pl.String, "source_row": pl.Int64, "field": pl.String, "original_value": pl.String,
                   "true_uscc": pl.String, "problem": pl.String, "expected_status": pl.String,
                   "expected_method": pl.String, "category": pl.String, "department_code": pl.String}
    codes = (pl.concat(writer.codes) if writer.codes else pl.DataFrame(schema=code_schema)).sort("source_file", "source_row")
    files.write_parquet(truth / "files.parquet")
    rows.write_parquet(truth / "rows.parquet")
    codes.write_parquet(truth / "codes.parquet")
    _subjects_truth(world, cats).write_parquet(truth / "subjects.parquet")
    (truth / "manifest.json").write_text(json.dumps(
        {"seed": seed, "subjects": subjects, "batches": batches, "as_of": as_of.isoformat(), "error_rate": error_rate,
         "activity": activity, "files": files["source_file"].to_list()}, ensure_ascii=False, indent=1))

    counts = rows.group_by("category").len().sort("category")
    return DemoReport(data_dir, files["source_file"].to_list(), dict(zip(counts["category"], counts["len"], strict=True)),
                      subjects, time.perf_counter() - t0)


def _subjects_truth(world: World, cats: dict[str, pl.DataFrame]) -> pl.DataFrame:
    s = world.subjects
    rejected = set()
    if "registration" in cats:
        reg = cats["registration"]
        rejected = set(reg.filter(pl.col("_outcome") == "rejected")["_sid"].to_list())
    subj = s.with_columns(
        (pl.col("in_register") & ~pl.col("sid").is_in(list(rejected))).alias("in_register"),
        pl.lit(None, dtype=pl.String).alias("id_no"),
    ).drop("all_digit", "scope_dept", "sid")
    p = world.persons
    persons = pl.DataFrame({"name": p["name"], "subject_kind": ["自然人"] * p.height, "id_no": p["id_no"],
                            "in_register": [False] * p.height})
    return pl.concat([subj, persons], how="diagonal_relaxed")
