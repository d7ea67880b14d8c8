"""Row-level and code error injection, recorded in hidden truth columns.

Every injected row carries exactly one problem: ``_err`` (error class), ``_outcome``
(loaded / rejected / duplicate / superseded), ``_rule`` (rule id for rejected rows)
and, for code problems, ``_cfield, _corig, _ctrue, _cproblem, _cstatus, _cmethod``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import polars as pl

from ..codes.constants import USCC_ALPHABET
from .world import World

TRUTH_COLS = {"_err": pl.String, "_outcome": pl.String, "_rule": pl.String, "_cfield": pl.String,
              "_corig": pl.String, "_ctrue": pl.String, "_cproblem": pl.String, "_cstatus": pl.String,
              "_cmethod": pl.String}

# error class → (expected outcome, rule id)
ROW_CLASSES: dict[str, tuple[str, str | None]] = {
    "fullwidth": ("loaded", None),
    "date_form": ("loaded", None),
    "money_yuan": ("loaded", None),
    "date_impossible": ("rejected", "date_format"),
    "date_future": ("rejected", "date_future"),
    "date_order": ("rejected", "date_order"),
    "date_too_early": ("rejected", "date_range"),
    "money_negative": ("rejected", "min"),
    "number_format": ("rejected", "number_format"),
    "enum_unknown": ("rejected", "enum"),
    "required_missing": ("rejected", "required"),
    "required_when_missing": ("rejected", "required_when"),
    "subject_kind_not_allowed": ("rejected", "subject_kind"),
    "year_max": ("rejected", "max"),
    "source_uscc_invalid": ("rejected", "code_invalid"),
}
# code problem → (expected status, expected method)
CODE_CLASSES: dict[str, tuple[str, str | None]] = {
    "code_format": ("valid", "normalise"),
    "code_lookalike": ("repaired", "lookalike"),
    "code_excel_float": ("repaired", "name_excel_tail"),
    "code_typo": ("repaired", "name_typo"),
    "code_legacy_in_uscc": ("repaired", None),  # register_org_code / register_reg_no
    "code_legacy_only": ("repaired", None),
    "code_missing_name": ("repaired", "name_match"),
    "code_invalid_name": ("repaired", "name_match"),
    "code_ambiguous_name": ("ambiguous", None),
    "code_unknown_subject": ("unknown_subject", None),
    "code_garbage": ("unresolved", None),
}
LATE_CLASSES = ("duplicate_row", "redelivered")


@dataclass
class ErrorRates:
    """Rates per error class: row classes are fractions of eligible rows (at least one
    row when > 0); ``files_*`` are fractions of regular files given that variant
    (at least one); ``bad_files`` is how many of each broken-file kind."""

    fullwidth: float = 0.001
    date_form: float = 0.001
    money_yuan: float = 0.001
    date_impossible: float = 0.001
    date_future: float = 0.001
    date_order: float = 0.001
    date_too_early: float = 0.001
    money_negative: float = 0.001
    number_format: float = 0.001
    enum_unknown: float = 0.001
    required_missing: float = 0.001
    required_when_missing: float = 0.001
    subject_kind_not_allowed: float = 0.001
    year_max: float = 0.001
    source_uscc_invalid: float = 0.001
    duplicate_row: float = 0.001
    redelivered: float = 0.001
    code_format: float = 0.001
    code_lookalike: float = 0.001
    code_excel_float: float = 0.001
    code_typo: float = 0.001
    code_legacy_in_uscc: float = 0.001
    code_legacy_only: float = 0.001
    code_missing_name: float = 0.001
    code_invalid_name: float = 0.001
    code_ambiguous_name: float = 0.001
    code_unknown_subject: float = 0.001
    code_garbage: float = 0.001
    # register conflicts: pairs per subject
    multiple_codes: float = 0.0005
    duplicate_code: float = 0.0005
    # file level
    files_variant: float = 0.05
    bad_files: int = 1

    @classmethod
    def spread(cls, error_rate: float) -> ErrorRates:
        """``error_rate`` (share of rows with a problem) spread evenly over the row and
        code classes; file variants and broken files scale with it."""
        row = [f.name for f in dataclasses.fields(cls) if f.name in ROW_CLASSES or f.name in CODE_CLASSES
               or f.name in LATE_CLASSES]
        each = error_rate / len(row)
        kw = {k: each for k in row}
        kw["multiple_codes"] = error_rate / 60
        kw["duplicate_code"] = error_rate / 60
        kw["files_variant"] = min(0.1, 2 * error_rate)
        kw["bad_files"] = 1 if error_rate > 0 else 0
        return cls(**kw)


FULLWIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})

# per category: (date field checked for the future, dependent date fields to blank)
DATE_FIELD = {
    "registration": ("established_on", ["approved_on"]),
    "admin_license": ("decided_on", []),
    "admin_penalty": ("decided_on", ["publicity_until"]),
    "dishonest_debtor": ("published_on", []),
    "serious_dishonesty_list": ("listed_on", ["valid_until", "removed_on"]),
    "abnormal_operation": ("listed_on", ["removed_on"]),
    "credit_commitment": ("committed_on", ["due_on"]),
    "honor": ("granted_on", ["valid_until"]),
    "inspection": ("inspected_on", []),
    "credit_repair": ("repaired_on", []),
}
# (field that must not precede, the field it follows)
DATE_ORDER = {
    "admin_license": ("valid_to", "valid_from"),
    "admin_penalty": ("publicity_until", "decided_on"),
    "dishonest_debtor": ("published_on", "filed_on"),
    "credit_commitment": ("due_on", "committed_on"),
    "honor": ("valid_until", "granted_on"),
    "serious_dishonesty_list": ("valid_until", "listed_on"),
}
ENUM_BAD = {
    "registration": ("status", ["歇业", "正常营业"]),
    "admin_license": ("license_kind", ["行政确认", "备案"]),
    "admin_penalty": ("domain", ["交通运输", "文化旅游"]),
    "dishonest_debtor": ("performance", ["拒不履行"]),
    "abnormal_operation": ("reason", ["其他原因", "年报未报"]),
    "credit_commitment": ("fulfilment", ["已完成"]),
    "honor": ("level", ["区级", "乡镇级"]),
    "inspection": ("result", ["合格", "基本合格"]),
    "tax_credit_rating": ("rating", ["E", "A级"]),
    "credit_repair": ("repair_way", ["撤销公示"]),
    "objection": ("status", ["已受理"]),
    "inspector": ("active", ["退休", "借调"]),
    "serious_dishonesty_list": ("subject_kind", ["企业法人"]),
}
REQUIRED = {
    "registration": "name", "admin_license": "content", "admin_penalty": "facts",
    "dishonest_debtor": "behaviour", "serious_dishonesty_list": "basis", "abnormal_operation": "decided_by",
    "credit_commitment": "accepted_by", "honor": "granted_by", "inspection": "inspected_by",
    "tax_credit_rating": "rating", "credit_repair": "decided_by", "objection": "objected_record_no",
    "inspector": "name",
}
FULLWIDTH_FIELD = {
    "registration": "address", "admin_license": "decision_no", "admin_penalty": "decision_no",
    "dishonest_debtor": "case_no", "serious_dishonesty_list": "decision_no", "inspection": "inspection_no",
    "objection": "objection_no", "inspector": "badge_no", "credit_repair": "repaired_record_no",
}
# (field corrected in a re-delivery, new value or None = derived)
REDELIVER_FIX = {
    "registration": ("address", None), "admin_license": ("state", "无效"), "admin_penalty": ("content", None),
    "inspection": ("result", "发现问题已责令改正"), "abnormal_operation": ("decided_by", None),
    "credit_commitment": ("fulfilment", "已履约"), "honor": ("granted_by", None),
    "tax_credit_rating": ("rating", "B"), "dishonest_debtor": ("performance", "部分未履行"),
    "serious_dishonesty_list": ("reason", None), "credit_repair": ("repair_way", "其他"),
    "inspector": ("active", "离岗"),
}


class Injector:
    def __init__(self, world: World, rng: np.random.Generator, cats: dict[str, pl.DataFrame], rates: ErrorRates,
                 catalogue):
        self.w = world
        self.rng = rng
        self.rates = rates
        self.cat = catalogue
        self.cats = {k: v.with_columns([pl.lit(None, dtype=t).alias(c) for c, t in TRUTH_COLS.items()])
                     .with_columns(pl.lit("loaded").alias("_outcome"),
                                   pl.int_range(pl.len(), dtype=pl.Int64).cast(pl.Float64).alias("_ord"))
                     for k, v in cats.items()}
        s = world.subjects
        self.s_uscc = s["uscc"].to_numpy()
        self.s_name = s["name"].to_numpy()
        self.s_reg = s["reg_no"].fill_null("").to_numpy()
        self.s_org = s["org_code"].to_numpy()
        self.s_digit = s["all_digit"].to_numpy()
        self.s_special = s["conflict"].is_not_null().to_numpy()
        self.s_inreg = s["in_register"].to_numpy()
        self.s_kind = s["subject_kind"].to_numpy()
        self.bday = np.array([b.day for b in world.batches])

    # ------------------------------------------------------------------ plumbing
    def free(self, k: str, extra: pl.Expr | None = None, *, reject: bool = False) -> np.ndarray:
        df = self.cats[k]
        m = pl.col("_err").is_null()
        if reject:
            m = m & ~pl.col("_protect")
        if extra is not None:
            m = m & extra.fill_null(False)
        return np.flatnonzero(df.select(m).to_series().to_numpy())

    def choose(self, cls: str, cands: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rate = getattr(self.rates, cls)
        cands = {k: v for k, v in cands.items() if len(v)}
        total = sum(len(v) for v in cands.values())
        if rate <= 0 or total == 0:
            return {}
        want = min(total, max(1, int(round(rate * total))))
        keys = list(cands)
        offs = np.cumsum([0] + [len(cands[k]) for k in keys])
        pick = np.sort(self.rng.choice(total, want, replace=False))
        out = {}
        for i, k in enumerate(keys):
            sel = pick[(pick >= offs[i]) & (pick < offs[i + 1])] - offs[i]
            if len(sel):
                out[k] = cands[k][sel]
        return out

    def set(self, k: str, idx: np.ndarray, **cols) -> None:
        df = self.cats[k]
        upd = []
        for c, v in cols.items():
            if c not in df.columns:
                df = df.with_columns(pl.lit(None, dtype=pl.String).alias(c))
            if isinstance(v, np.ndarray):
                v = v.tolist()
            vals = pl.Series(c, v if isinstance(v, (list, pl.Series)) else [v] * len(idx), dtype=df[c].dtype)
            upd.append(df[c].scatter(idx, vals))
        self.cats[k] = df.with_columns(upd)

    def mark(self, k: str, idx: np.ndarray, cls: str, outcome: str, rule: str | None) -> None:
        self.set(k, idx, _err=cls, _outcome=outcome, _rule=rule)

    def col(self, k: str, c: str, idx: np.ndarray) -> np.ndarray:
        return self.cats[k][c].gather(idx).to_numpy()

    def row_batch_day(self, k: str, idx: np.ndarray) -> np.ndarray:
        return self.bday[self.cats[k]["_batch"].gather(idx).to_numpy()]

    @property
    def subject_cats(self) -> list[str]:
        return [k for k in self.cats if k not in ("registration", "inspector")]

    # ------------------------------------------------------------------ row classes
    def run(self) -> dict[str, pl.DataFrame]:
        self.register_conflicts()
        self.code_problems()
        self.row_problems()
        self.duplicate_rows()
        self.redeliveries()
        return {k: v.sort("_batch", "_dept", "_ord", maintain_order=True) for k, v in self.cats.items()}

    def register_conflicts(self) -> None:
        if "registration" not in self.cats:
            return
        reg = self.cats["registration"]
        for a, b in self.w.multi_code_pairs:
            self.set("registration", np.array([a, b]), _err="multiple_codes", _cfield="uscc",
                     _corig=[self.s_uscc[a], self.s_uscc[b]], _ctrue=[self.s_uscc[a], self.s_uscc[b]],
                     _cproblem="multiple_codes", _cstatus="conflict", _cmethod="multiple_codes")
        ghosts = []
        for (a,) in self.w.dup_code_pairs:
            row = reg[int(a)]
            ghost_name = self.s_name[a].replace("有限", "实业有限", 1) if "有限" in self.s_name[a] else self.s_name[a] + "分公司"
            row = row.with_columns(pl.lit(ghost_name).alias("name"), pl.lit("duplicate_code").alias("_err"),
                                   pl.lit("superseded").alias("_outcome"), pl.col("_ord") - 0.5,
                                   pl.lit("uscc").alias("_cfield"), pl.col("uscc").alias("_corig"),
                                   pl.col("uscc").alias("_ctrue"), pl.lit("duplicate_code").alias("_cproblem"),
                                   pl.lit("conflict").alias("_cstatus"), pl.lit("duplicate_code").alias("_cmethod"),
                                   pl.lit(True).alias("_protect"))
            ghosts.append(row)
            self.set("registration", np.array([a]), _err="duplicate_code", _cfield="uscc", _corig=self.s_uscc[a],
                     _ctrue=self.s_uscc[a], _cproblem="duplicate_code", _cstatus="conflict", _cmethod="duplicate_code")
        if ghosts:
            self.cats["registration"] = pl.concat([self.cats["registration"], *ghosts])

    def _code_cands(self, cond) -> dict[str, np.ndarray]:
        out = {}
        for k in self.subject_cats:
            df = self.cats[k]
            sid = df["_sid"].to_numpy()
            ok = (sid >= 0) & df["_err"].is_null().to_numpy()
            s = np.where(ok, sid, 0)
            ok &= self.s_inreg[s] & ~self.s_special[s]
            ok &= cond(df, s)
            out[k] = np.flatnonzero(ok)
        return out

    def _code(self, k, idx, cls, field, orig, true, status=None, method=None, **extra):
        st, me = CODE_CLASSES[cls]
        self.set(k, idx, _err=cls, _cfield=field, _corig=orig, _ctrue=true, _cproblem=cls,
                 _cstatus=status or st, _cmethod=method if method is not None else me, **extra)

    def code_problems(self) -> None:
        rng = self.rng
        org = lambda df, s: (df["subject_kind"] == "法人及非法人组织").to_numpy()  # noqa: E731
        anyk = lambda df, s: np.ones(df.height, bool)  # noqa: E731
        # formatting only
        for k, idx in self.choose("code_format", self._code_cands(anyk)).items():
            u = self.s_uscc[self.col(k, "_sid", idx)]
            style = rng.integers(0, 4, len(idx))
            out = []
            for code, st in zip(u.tolist(), style.tolist(), strict=True):  # per injected row only
                if st == 0 and any(c.isalpha() for c in code):
                    out.append(code.lower())
                elif st <= 1:
                    out.append(f"{code[:6]} {code[6:12]} {code[12:]}")
                elif st == 2:
                    out.append(f"{code[:8]}-{code[8:17]}-{code[17]}")
                else:
                    out.append(code.translate(FULLWIDTH))
            self._code(k, idx, "code_format", "uscc", out, u, uscc=out)
        for k, idx in self.choose("code_lookalike", self._code_cands(anyk)).items():
            u = self.s_uscc[self.col(k, "_sid", idx)]
            out = []
            for code, r in zip(u.tolist(), rng.random(len(idx)).tolist(), strict=True):
                pos = [i for i, c in enumerate(code) if c in "01" and i >= 2]
                i = pos[int(r * len(pos))] if pos else 17
                out.append(code[:i] + {"0": "O", "1": "I"}.get(code[i], code[i]) + code[i + 1:])
            self._code(k, idx, "code_lookalike", "uscc", out, u, uscc=out)

        def excel_ok(df, s):
            u = self.s_uscc[s]
            return self.s_digit[s] & ~np.char.endswith(u.astype(str), "000")

        for k, idx in self.choose("code_excel_float", self._code_cands(excel_ok)).items():
            u = self.s_uscc[self.col(k, "_sid", idx)]
            v = np.array([int(x) for x in u.tolist()], dtype=np.int64)
            out = [str(x) for x in ((v + 500) // 1000 * 1000).tolist()]
            self._code(k, idx, "code_excel_float", "uscc", out, u, uscc=out)
        for k, idx in self.choose("code_typo", self._code_cands(anyk)).items():
            u = self.s_uscc[self.col(k, "_sid", idx)]
            pos = rng.integers(2, 17, len(idx))
            shift = rng.integers(1, 31, len(idx))
            out = []
            for code, p, sh in zip(u.tolist(), pos.tolist(), shift.tolist(), strict=True):
                c = USCC_ALPHABET[(USCC_ALPHABET.index(code[p]) + sh) % 31]
                out.append(code[:p] + c + code[p + 1:])
            self._code(k, idx, "code_typo", "uscc", out, u, uscc=out)
        for k, idx in self.choose("code_legacy_in_uscc", self._code_cands(anyk)).items():
            sid = self.col(k, "_sid", idx)
            u, rn, oc = self.s_uscc[sid], self.s_reg[sid], self.s_org[sid]
            use_reg = (rn != "") & (rng.random(len(idx)) < 0.5)
            hy = rng.random(len(idx)) < 0.5
            oc_s = np.where(hy, np.char.add(np.char.add(oc.astype("<U8"), "-"), np.array([x[8:] for x in oc.tolist()])), oc)
            out = np.where(use_reg, rn, oc_s)
            meth = np.where(use_reg, "register_reg_no", "register_org_code")
            self._code(k, idx, "code_legacy_in_uscc", "uscc", out, u, method=meth.tolist(), uscc=out)
        for k, idx in self.choose("code_legacy_only", self._code_cands(anyk)).items():
            sid = self.col(k, "_sid", idx)
            u, rn, oc = self.s_uscc[sid], self.s_reg[sid], self.s_org[sid]
            use_reg = rn != ""
            oc_s = np.where(rng.random(len(idx)) < 0.5, np.char.add(np.char.add(oc.astype("<U8"), "-"), np.array([x[8:] for x in oc.tolist()])), oc)
            self._code(k, idx, "code_legacy_only", np.where(use_reg, "reg_no", "org_code").tolist(),
                       np.where(use_reg, rn, oc_s), u, method=np.where(use_reg, "register_reg_no", "register_org_code").tolist(),
                       uscc=[None] * len(idx), reg_no=np.where(use_reg, rn, "").tolist(),
                       org_code=np.where(use_reg, "", oc_s).tolist())
            self.cats[k] = self.cats[k].with_columns(
                [pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in ("reg_no", "org_code")])
        sole = lambda df, s: (df["subject_kind"] == "个体工商户").to_numpy()  # noqa: E731
        for k, idx in self.choose("code_missing_name", self._code_cands(sole)).items():
            u = self.s_uscc[self.col(k, "_sid", idx)]
            self._code(k, idx, "code_missing_name", "uscc", [None] * len(idx), u, uscc=[None] * len(idx))
        for k, idx in self.choose("code_invalid_name", self._code_cands(org)).items():
            u = self.s_uscc[self.col(k, "_sid", idx)]
            cut = rng.integers(10, 17, len(idx))
            out = [c[:n] for c, n in zip(u.tolist(), cut.tolist(), strict=True)]
            self._code(k, idx, "code_invalid_name", "uscc", out, u, uscc=out)
        # subject replaced: a 多码 pair member (ambiguous), an outside subject (unknown / unresolved)
        pairs = self.w.multi_code_pairs.ravel()
        outside = np.flatnonzero(~self.s_inreg)
        for cls, pool in (("code_ambiguous_name", pairs), ("code_unknown_subject", outside), ("code_garbage", outside)):
            if not len(pool):
                continue
            for k, idx in self.choose(cls, self._code_cands(org)).items():
                sid = pool[rng.integers(0, len(pool), len(idx))]
                u = self.s_uscc[sid]
                if cls == "code_unknown_subject":
                    code = u.tolist()
                    true = u.tolist()
                elif cls == "code_ambiguous_name":
                    code = [c[: int(n)] for c, n in zip(u.tolist(), rng.integers(8, 17, len(idx)).tolist(), strict=True)]
                    true = u.tolist()
                else:
                    code = [c[2:12] for c in u.tolist()]
                    true = [None] * len(idx)
                self._code(k, idx, cls, "uscc", code, true, uscc=code, subject_name=self.s_name[sid].tolist(),
                           _sid=sid)

    def row_problems(self) -> None:
        rng = self.rng
        R = ROW_CLASSES
        cats = self.cats

        def has(c):
            return pl.col(c).is_not_null() if c else pl.lit(False)

        # fullwidth (loaded)
        c = {k: self.free(k, has(f)) for k, f in FULLWIDTH_FIELD.items() if k in cats}
        for k, idx in self.choose("fullwidth", c).items():
            f = FULLWIDTH_FIELD[k]
            v = [x.translate(FULLWIDTH) for x in self.col(k, f, idx).tolist()]
            self.set(k, idx, **{f: v})
            self.mark(k, idx, "fullwidth", *R["fullwidth"])
        # other date forms (loaded)
        c = {k: self.free(k, has(f[0])) for k, f in DATE_FIELD.items() if k in cats}
        for k, idx in self.choose("date_form", c).items():
            f = DATE_FIELD[k][0]
            d = pl.Series(self.col(k, f, idx)).str.to_date("%Y-%m-%d")
            form = rng.integers(0, 4, len(idx))
            y, m, dd = d.dt.year().cast(pl.String), d.dt.month().cast(pl.String), d.dt.day().cast(pl.String)
            forms = [pl.select(pl.format("{}/{}/{}", y, m, dd)).to_series(), d.dt.to_string("%Y.%m.%d"),
                     pl.select(pl.format("{}年{}月{}日", y, m, dd)).to_series(), d.dt.to_string("%Y%m%d")]
            v = [forms[f_][i] for i, f_ in enumerate(form.tolist())]
            self.set(k, idx, **{f: v})
            self.mark(k, idx, "date_form", *R["date_form"])
        # money in 元 (loaded, flagged)
        money = {"admin_penalty": "fine", "registration": "registered_capital"}
        c = {k: self.free(k, pl.col(f).cast(pl.Float64, strict=False) >= 11) for k, f in money.items() if k in cats}
        for k, idx in self.choose("money_yuan", c).items():
            f = money[k]
            v = (pl.Series(self.col(k, f, idx)).cast(pl.Float64) * 10000).round(0).cast(pl.Int64).cast(pl.String)
            self.set(k, idx, **{f: v})
            self.mark(k, idx, "money_yuan", *R["money_yuan"])
        # dates
        c = {k: self.free(k, has(f[0]), reject=True) for k, f in DATE_FIELD.items() if k in cats}
        for k, idx in self.choose("date_impossible", c).items():
            f, dep = DATE_FIELD[k]
            y = [x[:4] for x in self.col(k, f, idx).tolist()]
            bad = ["{}-02-30", "{}-02-31", "{}-04-31", "{}/6/31", "{}-09-31", "{}年11月31日", "{}-13-05"]
            v = [bad[i % len(bad)].format(yy) for i, yy in enumerate(y)]
            self.set(k, idx, **{f: v}, **{d: [None] * len(idx) for d in dep})
            self.mark(k, idx, "date_impossible", *R["date_impossible"])
        c = {k: self.free(k, has(f[0]), reject=True) for k, f in DATE_FIELD.items() if k in cats}
        for k, idx in self.choose("date_future", c).items():
            f, dep = DATE_FIELD[k]
            d = self.row_batch_day(k, idx) + rng.integers(1, 60, len(idx))
            v = pl.Series(d.astype(np.int32)).cast(pl.Date).dt.to_string("%Y-%m-%d")
            self.set(k, idx, **{f: v}, **{x: [None] * len(idx) for x in dep})
            self.mark(k, idx, "date_future", *R["date_future"])
        c = {k: self.free(k, has(a) & has(b), reject=True) for k, (a, b) in DATE_ORDER.items() if k in cats}
        for k, idx in self.choose("date_order", c).items():
            a, b = DATE_ORDER[k]
            d = pl.Series(self.col(k, b, idx)).str.to_date("%Y-%m-%d").cast(pl.Int32).to_numpy() - rng.integers(1, 300, len(idx))
            self.set(k, idx, **{a: pl.Series(d.astype(np.int32)).cast(pl.Date).dt.to_string("%Y-%m-%d")})
            self.mark(k, idx, "date_order", *R["date_order"])
        c = {k: self.free(k, has(f[0]), reject=True) for k, f in DATE_FIELD.items() if k in cats}
        for k, idx in self.choose("date_too_early", c).items():
            f, dep = DATE_FIELD[k]
            v = [str(int(x[:4]) - 1000).zfill(4) + x[4:] for x in self.col(k, f, idx).tolist()]
            self.set(k, idx, **{f: v}, **{x: [None] * len(idx) for x in dep})
            self.mark(k, idx, "date_too_early", *R["date_too_early"])
        # money
        c = {k: self.free(k, has(f), reject=True) for k, f in money.items() if k in cats}
        for k, idx in self.choose("money_negative", c).items():
            f = money[k]
            self.set(k, idx, **{f: ["-" + x for x in self.col(k, f, idx).tolist()]})
            self.mark(k, idx, "money_negative", *R["money_negative"])
        nf = dict(money, tax_credit_rating="year")
        c = {k: self.free(k, has(f), reject=True) for k, f in nf.items() if k in cats}
        for k, idx in self.choose("number_format", c).items():
            f = nf[k]
            v = ["二〇二四" if f == "year" else ["伍万元", "约3万", "1,2,3"][i % 3] for i in range(len(idx))]
            self.set(k, idx, **{f: v})
            self.mark(k, idx, "number_format", *R["number_format"])
        # enums
        c = {k: self.free(k, has(f), reject=True) for k, (f, _) in ENUM_BAD.items() if k in cats}
        for k, idx in self.choose("enum_unknown", c).items():
            f, bad = ENUM_BAD[k]
            self.set(k, idx, **{f: [bad[i % len(bad)] for i in range(len(idx))]})
            self.mark(k, idx, "enum_unknown", *R["enum_unknown"])
        # required
        c = {k: self.free(k, has(f), reject=True) for k, f in REQUIRED.items() if k in cats}
        for k, idx in self.choose("required_missing", c).items():
            f = REQUIRED[k]
            self.set(k, idx, **{f: [None] * len(idx)})
            self.mark(k, idx, "required_missing", *R["required_missing"])
        c = {}
        for k in self.subject_cats:
            c[k] = self.free(k, pl.col("subject_kind") == "法人及非法人组织", reject=True)
        for k, idx in self.choose("required_when_missing", c).items():
            df = cats[k]
            variant = rng.integers(0, 2, len(idx))
            if k == "admin_penalty":
                fine_ok = df["fine"].gather(idx).is_not_null().to_numpy()
                variant = np.where(fine_ok & (rng.random(len(idx)) < 0.5), 2, variant)
            if k == "objection":
                closed = (df["status"].gather(idx) == "已办结").to_numpy()
                variant = np.where(closed, 3, variant)
            for v, cols in ((0, ["uscc", "reg_no", "org_code"]), (1, ["legal_rep"]), (2, ["fine"]), (3, ["closed_on"])):
                sel = idx[variant == v]
                if len(sel):
                    self.set(k, sel, **{col: [None] * len(sel) for col in cols})
            self.mark(k, idx, "required_when_missing", *R["required_when_missing"])
        # subject kind not allowed: a person in the tax ratings
        if "tax_credit_rating" in cats and self.w.persons.height:
            c = {"tax_credit_rating": self.free("tax_credit_rating", reject=True)}
            for k, idx in self.choose("subject_kind_not_allowed", c).items():
                p = self.w.persons[rng.integers(0, self.w.persons.height, len(idx))]
                n = len(idx)
                self.set(k, idx, subject_name=p["name"], subject_kind="自然人", uscc=[None] * n, legal_rep=[None] * n,
                         legal_rep_id_type=[None] * n, legal_rep_id_no=[None] * n, id_type="身份证", id_no=p["id_no"])
                self.mark(k, idx, "subject_kind_not_allowed", *R["subject_kind_not_allowed"])
            c = {"tax_credit_rating": self.free("tax_credit_rating", reject=True)}
            for k, idx in self.choose("year_max", c).items():
                self.set(k, idx, year=str(self.w.as_of.year + 5))
                self.mark(k, idx, "year_max", *R["year_max"])
        # the source department's USCC broken (last character changed)
        c = {k: self.free(k, reject=True) for k in cats}
        for k, idx in self.choose("source_uscc_invalid", c).items():
            dep = self.col(k, "_dept", idx)
            v = []
            for d in dep.tolist():
                u = self.w.depts[d]["uscc"]
                v.append(u[:17] + USCC_ALPHABET[(USCC_ALPHABET.index(u[17]) + 7) % 31])
            self.set(k, idx, source_dept_uscc=v)
            self.mark(k, idx, "source_uscc_invalid", *R["source_uscc_invalid"])

    def duplicate_rows(self) -> None:
        c = {k: self.free(k) for k in self.cats}
        for k, idx in self.choose("duplicate_row", c).items():
            df = self.cats[k]
            dup = df[idx].with_columns(pl.col("_ord") + 0.5, pl.lit("duplicate_row").alias("_err"),
                                       pl.lit("duplicate").alias("_outcome"), pl.lit(True).alias("_protect"))
            self.set(k, idx, _protect=True)
            self.cats[k] = pl.concat([self.cats[k], dup])

    def redeliveries(self) -> None:
        last = len(self.w.batches) - 1  # the `_2` correction batch
        c = {k: self.free(k, pl.col("_batch") < last, reject=True) for k in self.cats if k in REDELIVER_FIX}
        for k, idx in self.choose("redelivered", c).items():
            df = self.cats[k]
            f, newv = REDELIVER_FIX[k]
            rows = df[idx]
            if newv is None:
                fixed = rows[f].fill_null("").str.strip_suffix("（更正）") + "（更正）"
            else:
                fixed = pl.Series([newv] * len(idx))
            b = rows["_batch"].to_numpy()
            nb = np.where(self.rng.random(len(idx)) < 0.5, last, np.minimum(b + 1, last))
            if k == "inspector" or k == "tax_credit_rating":
                nb = np.full(len(idx), last)
            later = rows.with_columns(fixed.alias(f), pl.Series("_batch", nb), pl.lit("redelivered").alias("_err"),
                                      pl.lit("loaded").alias("_outcome"), pl.lit(True).alias("_protect"))
            self.mark(k, idx, "redelivered", "superseded", None)
            self.cats[k] = pl.concat([self.cats[k], later])
