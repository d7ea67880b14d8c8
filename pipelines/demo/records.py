"""Clean records of every category from every department that submits it.

Each generator returns a polars frame with canonical field names (all values as
strings, dates ISO) and hidden columns: ``_dept``, ``_batch`` (index into the batch
plan), ``_sid`` (subject row, -1 for none), ``_pid`` (person row, -1 for none),
``_protect`` (must stay loaded: other records refer to it)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from . import vocab as V
from .world import World, day, gather, iso, person_names, where

SUBJECT_COLS = ["subject_name", "subject_kind", "uscc", "reg_no", "org_code", "legal_rep",
                "legal_rep_id_type", "legal_rep_id_no", "id_type", "id_no"]


class Gen:
    def __init__(self, world: World, rng: np.random.Generator, submits: dict[str, list[str]]):
        self.w = world
        self.rng = rng
        self.submits = submits
        s = world.subjects
        self.n_reg = world.n_register
        reg = s.head(self.n_reg)
        live = reg["conflict"].is_null().to_numpy()
        self.pool_all = np.flatnonzero(live)
        self.scope = reg["scope_dept"].to_numpy()
        self.et = reg["entity_type"].to_numpy()
        self.est_day = (reg["established_on"].cast(pl.Int32)).to_numpy()
        self.firms = np.flatnonzero(live & np.isin(self.et, ["企业", "个体工商户", "农民专业合作社"]))
        self.orgs = np.flatnonzero(live & (self.et != "个体工商户"))
        bd = [b.day for b in world.batches]
        self.bday = np.array(bd)
        self.reg_b = [i for i, b in enumerate(world.batches) if b.regular]
        self.seq = 0

    # ---------------------------------------------------------------- helpers
    def batches_for(self, n: int, first_share: float = 0.6) -> np.ndarray:
        nb = len(self.reg_b)
        if nb == 1:
            return np.zeros(n, dtype=np.int64)
        return np.where(self.rng.random(n) < first_share, 0, self.rng.integers(1, nb, n))

    def dates_for(self, b: np.ndarray, years_back: float = 5.0, not_before: np.ndarray | None = None) -> np.ndarray:
        """A day in the window of batch b: the backlog for the first batch, the month
        since the previous delivery for the others."""
        hi = self.bday[b] - 1
        lo = np.where(b == 0, self.bday[0] - int(years_back * 365), self.bday[np.maximum(b - 1, 0)])
        if not_before is not None:
            lo = np.maximum(lo, not_before)
        lo = np.minimum(lo, hi)
        return (lo + self.rng.random(len(b)) * (hi - lo + 1)).astype(np.int64)

    def pick_subjects(self, n: int, dept: str, pool: np.ndarray | None = None) -> np.ndarray:
        pool = self.firms if pool is None else pool
        if dept not in ("scjg", "swj", "fgw", "fy"):
            scoped = pool[self.scope[pool] == dept]
            if len(scoped) >= 5:
                pool = np.concatenate([scoped, scoped, scoped, pool])  # mostly in scope
        return pool[self.rng.integers(0, len(pool), n)]

    def subject_block(self, sid: np.ndarray, pid: np.ndarray) -> pl.DataFrame:
        n = len(sid)
        is_p = pid >= 0
        w = self.w.subjects[np.where(is_p, 0, sid)]
        p = self.w.persons[np.where(is_p, pid, 0)]
        lr_id = (self.rng.random(n) < 0.3) & ~is_p
        null = pl.Series([None] * n, dtype=pl.String)
        return pl.DataFrame({
            "subject_name": where(is_p, p["name"], w["name"]),
            "subject_kind": where(is_p, "自然人", w["subject_kind"]),
            "uscc": where(is_p, null, w["uscc"]),
            "reg_no": null,
            "org_code": null,
            "legal_rep": where(is_p, null, w["legal_rep"]),
            "legal_rep_id_type": where(lr_id, "身份证", null),
            "legal_rep_id_no": where(lr_id, w["legal_rep_id_no"], null),
            "id_type": where(is_p, "身份证", null),
            "id_no": where(is_p, p["id_no"], null),
            "_sid": np.where(is_p, -1, sid),
            "_pid": np.where(is_p, pid, -1),
        })

    def subjects_mixed(self, n: int, dept: str, person_share: float, pool=None) -> pl.DataFrame:
        is_p = self.rng.random(n) < person_share
        sid = self.pick_subjects(n, dept, pool)
        pid = np.where(is_p, self.rng.integers(0, self.w.persons.height, n), -1)
        return self.subject_block(sid, pid)

    def seqs(self, n: int) -> pl.Series:
        s = np.arange(self.seq + 1, self.seq + n + 1)
        self.seq += n
        return pl.Series((s % 100000 + 1).astype(str))  # 1..100000, unique with year+dept

    def info(self, dept: str) -> dict:
        return self.w.depts[dept]

    def frame(self, dept: str, b: np.ndarray, subj: pl.DataFrame | None, cols: dict) -> pl.DataFrame:
        n = len(b)
        data = dict(cols)
        df = pl.DataFrame(data) if data else pl.DataFrame({"_tmp": np.zeros(n)}).drop("_tmp")
        if subj is not None:
            df = pl.concat([subj, df], how="horizontal")
        else:
            df = df.with_columns(pl.lit(-1).alias("_sid"), pl.lit(-1).alias("_pid"))
        return df.with_columns(
            pl.lit(dept).alias("_dept"),
            pl.Series("_batch", b.astype(np.int64)),
            pl.lit(False).alias("_protect"),
        )

    def split(self, n: int, shares: dict[str, float], category: str) -> dict[str, int]:
        deps = {d: s for d, s in shares.items() if category in self.submits.get(d, [])}
        for d, subs in self.submits.items():  # departments added to the register
            if category in subs and d not in deps:
                deps[d] = 0.1
        tot = sum(deps.values()) or 1.0
        return {d: max(3, int(round(n * s / tot))) for d, s in deps.items()}

    # ---------------------------------------------------------------- categories
    def registration(self) -> pl.DataFrame:
        s = self.w.subjects.head(self.n_reg)
        est = self.est_day
        b = np.zeros(self.n_reg, dtype=np.int64)
        for k in self.reg_b[1:]:
            b = np.where(est >= self.bday[k - 1], k, b)
        first_dept = next((d for d, subs in self.submits.items() if "registration" in subs), "scjg")
        dept = self.info(first_dept)
        df = pl.DataFrame({
            "uscc": s["uscc"], "name": s["name"], "entity_type": s["entity_type"], "reg_no": s["reg_no"],
            "legal_rep": s["legal_rep"],
            "legal_rep_id_type": where(np.ones(self.n_reg, bool), "身份证", ""),
            "legal_rep_id_no": s["legal_rep_id_no"],
            "established_on": s["established_on"].dt.to_string("%Y-%m-%d"),
            "registered_capital": s["registered_capital"].round(2).cast(pl.String),
            "address": s["address"], "region_code": s["region_code"], "industry_code": s["industry_code"],
            "registration_authority": s["registration_authority"], "status": s["status"],
            "approved_on": s["approved_on"].dt.to_string("%Y-%m-%d"),
            "_sid": np.arange(self.n_reg), "_pid": np.full(self.n_reg, -1),
        })
        df = df.with_columns(pl.lit(first_dept).alias("_dept"), pl.Series("_batch", b), pl.lit(False).alias("_protect"))
        del dept
        return df

    def admin_license(self, n: int) -> pl.DataFrame:
        out = []
        for dept, k in self.split(n, {"scjg": 0.5, "sthj": 0.15, "yjgl": 0.15, "zjj": 0.2}, "admin_license").items():
            info = self.info(dept)
            b = self.batches_for(k)
            dec = self.dates_for(b, 6)
            lic = info["lic"] or ["许可证"]
            li = self.rng.integers(0, len(lic), k)
            cert = gather(lic, li)
            open_ended = self.rng.random(k) < 0.1
            valid_to = np.where(open_ended, day(dt.date(2099, 12, 31)), dec + 5 * 365)
            year = pl.Series(((dec / 365.25) + 1970).astype(np.int64).astype(str))
            seq = self.seqs(k)
            subj = self.subjects_mixed(k, dept, 0.0)
            out.append(self.frame(dept, b, subj, {
                "decision_doc_name": pl.select(pl.concat_str([cert, pl.lit("准予行政许可决定书")])).to_series(),
                "decision_no": pl.select(pl.format("{}许准〔{}〕{}号", pl.lit(info["abbr"]), year, seq)).to_series(),
                "license_kind": gather(["普通", "普通", "普通", "特许", "认可", "核准", "登记"], self.rng.integers(0, 7, k)),
                "certificate_name": cert,
                "license_no": pl.select(pl.format("JY{}{}", year, seq.str.zfill(6))).to_series(),
                "content": gather(V.LICENSE_CONTENT, self.rng.integers(0, len(V.LICENSE_CONTENT), k)),
                "decided_on": iso(dec), "valid_from": iso(dec), "valid_to": iso(valid_to),
                "authority": pl.Series([info["name"]] * k), "authority_uscc": pl.Series([info["uscc"]] * k),
                "state": gather(["有效"] * 19 + ["无效"], self.rng.integers(0, 20, k)),
            }))
        return pl.concat(out)

    def admin_penalty(self, n: int) -> pl.DataFrame:
        kinds = [("罚款", 0.45, "一般"), ("警告", 0.12, "轻微"), ("警告;罚款", 0.15, "一般"),
                 ("罚款;没收违法所得", 0.1, "一般"), ("责令停产停业;罚款", 0.05, "严重"),
                 ("吊销许可证件", 0.03, "严重"), ("通报批评", 0.05, "轻微"), ("没收非法财物", 0.05, "一般")]
        seps = [";", "；", "、", ","]
        combos = [k.replace(";", s) for k, _, _ in kinds for s in seps]
        p = np.array([w for _, w, _ in kinds])
        out = []
        for dept, k in self.split(n, {"scjg": 0.5, "swj": 0.15, "sthj": 0.12, "yjgl": 0.12, "zjj": 0.11},
                                  "admin_penalty").items():
            info = self.info(dept)
            b = self.batches_for(k)
            dec = self.dates_for(b, 5)
            ki = self.rng.choice(len(kinds), k, p=p / p.sum())
            si = np.where(self.rng.random(k) < 0.85, 0, self.rng.integers(0, 4, k))
            kind_s = [kinds[i][0] for i in range(len(kinds))]
            has_fine = np.array(["罚款" in x for x in kind_s])[ki]
            has_conf = np.array(["没收" in x for x in kind_s])[ki]
            fine = np.round(np.exp(self.rng.normal(np.log(2), 1.2, k)), 2)
            conf = np.round(np.exp(self.rng.normal(np.log(1), 1.0, k)), 2)
            viol = V.VIOLATIONS.get(dept, V.VIOLATIONS["scjg"])
            vi = self.rng.integers(0, len(viol), k)
            vtype = gather([v[0] for v in viol], vi)
            dom = V.DEPT_DOMAIN.get(dept, ["其他"])
            year = pl.Series(((dec / 365.25) + 1970).astype(np.int64).astype(str))
            subj = self.subjects_mixed(k, dept, 0.08 if dept in ("scjg", "yjgl") else 0.02)
            sev_given = self.rng.random(k) < 0.4
            pub_given = self.rng.random(k) < 0.3
            null = pl.Series([None] * k, dtype=pl.String)
            out.append(self.frame(dept, b, subj, {
                "decision_no": pl.select(pl.format("{}罚〔{}〕{}号", pl.lit(info["abbr"]), year, self.seqs(k))).to_series(),
                "violation_type": vtype,
                "facts": pl.select(pl.concat_str([pl.lit("经查，当事人"), subj["subject_name"], pl.lit("存在"), vtype, pl.lit("的违法行为")])).to_series(),
                "legal_basis": gather([v[1] for v in viol], vi),
                "penalty_kinds": gather(combos, ki * 4 + si),
                "content": pl.select(pl.concat_str([pl.lit("依法给予"), gather(kind_s, ki).str.replace_all(";", "、"), pl.lit("的行政处罚")])).to_series(),
                "fine": where(has_fine, pl.Series(fine.astype(str)), null),
                "confiscated": where(has_conf, pl.Series(conf.astype(str)), null),
                "decided_on": iso(dec),
                "publicity_until": where(pub_given, iso(dec + 365), null),
                "authority": pl.Series([info["name"]] * k), "authority_uscc": pl.Series([info["uscc"]] * k),
                "severity": where(sev_given, gather([x[2] for x in kinds], ki), null),
                "domain": gather(dom, self.rng.integers(0, len(dom), k)),
            }))
        return pl.concat(out)

    def inspection(self, n: int, shares=None) -> pl.DataFrame:
        out = []
        shares = shares or {"scjg": 0.6, "sthj": 0.2, "yjgl": 0.2}
        for dept, k in self.split(n, shares, "inspection").items():
            out.append(self._inspection(dept, k))
        return pl.concat(out)

    def _inspection(self, dept: str, k: int) -> pl.DataFrame:
        info = self.info(dept)
        b = self.batches_for(k, 0.5)
        d = self.dates_for(b, 3)
        year = pl.Series(((d / 365.25) + 1970).astype(np.int64).astype(str))
        results = ["未发现问题"] * 6 + ["发现问题已责令改正"] * 2 + ["发现问题待后续处理", "未发现开展本次抽查涉及的经营活动", "通过登记的住所（经营场所）无法联系"]
        return self.frame(dept, b, self.subjects_mixed(k, dept, 0.0), {
            "inspection_no": pl.select(pl.format("{}检〔{}〕{}", pl.lit(info["abbr"]), year, self.seqs(k).str.zfill(6))).to_series(),
            "inspection_kind": gather(["双随机抽查", "双随机抽查", "专项检查", "日常检查", "投诉举报核查"], self.rng.integers(0, 5, k)),
            "inspected_on": iso(d),
            "inspected_by": pl.Series([info["name"]] * k),
            "result": gather(results, self.rng.integers(0, len(results), k)),
        })

    def abnormal_operation(self, n: int) -> pl.DataFrame:
        out = []
        for dept, k in self.split(n, {"scjg": 1.0}, "abnormal_operation").items():
            info = self.info(dept)
            b = self.batches_for(k)
            d = self.dates_for(b, 4)
            ri = self.rng.choice(5, k, p=[0.6, 0.1, 0.05, 0.2, 0.05])
            removed = (self.rng.random(k) < 0.3) & (d + 30 < self.bday[b] - 1)
            rem = d + 30 + (self.rng.random(k) * np.maximum(self.bday[b] - 2 - d - 30, 0)).astype(np.int64)
            null = pl.Series([None] * k, dtype=pl.String)
            out.append(self.frame(dept, b, self.subjects_mixed(k, dept, 0.0), {
                "reason": gather(V.ABNORMAL_REASONS, ri),
                "listed_on": iso(d), "decided_by": pl.Series([info["name"]] * k),
                "removed_on": where(removed, iso(rem), null),
                "removal_reason": where(removed, "已补报年度报告并申请移出", null),
            }))
        return pl.concat(out)

    def credit_commitment(self, n: int) -> pl.DataFrame:
        out = []
        kinds = ["审批替代型", "容缺受理型", "证明事项告知承诺", "信用修复型", "行业自律型", "主动型"]
        for dept, k in self.split(n, {"scjg": 0.6, "fgw": 0.4}, "credit_commitment").items():
            info = self.info(dept)
            b = self.batches_for(k)
            d = self.dates_for(b, 3)
            mi = self.rng.integers(0, len(V.COMMIT_MATTERS), k)
            out.append(self.frame(dept, b, self.subjects_mixed(k, dept, 0.0), {
                "commitment_kind": gather(kinds, mi % len(kinds)),
                "matter": gather(V.COMMIT_MATTERS, mi),
                "committed_on": iso(d), "accepted_by": pl.Series([info["name"]] * k),
                "due_on": iso(d + 180),
                "fulfilment": gather(["已履约", "履约中", "履约中", "未履约"], self.rng.integers(0, 4, k)),
            }))
        return pl.concat(out)

    def honor(self, n: int) -> pl.DataFrame:
        out = []
        for dept, k in self.split(n, {"fgw": 0.6, "zjj": 0.4}, "honor").items():
            info = self.info(dept)
            b = self.batches_for(k)
            d = self.dates_for(b, 3)
            hi = self.rng.integers(0, len(V.HONORS), k)
            out.append(self.frame(dept, b, self.subjects_mixed(k, dept, 0.0, self.orgs), {
                "honor_name": gather([h[0] for h in V.HONORS], hi),
                "level": gather([h[1] for h in V.HONORS], hi),
                "granted_by": pl.Series([info["name"]] * k),
                "granted_on": iso(d), "valid_until": iso(d + 3 * 365),
            }))
        return pl.concat(out)

    def tax_credit_rating(self, n_subjects: int) -> pl.DataFrame:
        out = []
        for dept, _ in self.split(1, {"swj": 1.0}, "tax_credit_rating").items():
            years = [self.w.as_of.year - 3, self.w.as_of.year - 2, self.w.as_of.year - 1]
            for y in years:
                pool = self.firms[self.est_day[self.firms] < day(dt.date(y, 1, 1))]
                k = min(len(pool), max(3, int(0.2 * n_subjects)))
                sid = np.sort(self.rng.choice(pool, k, replace=False))
                b = np.zeros(k, dtype=np.int64)
                out.append(self.frame(dept, b, self.subject_block(sid, np.full(k, -1)), {
                    "year": pl.Series([str(y)] * k),
                    "rating": gather(["A", "B", "M", "C", "D"], self.rng.choice(5, k, p=[0.2, 0.55, 0.15, 0.07, 0.03])),
                }))
        return pl.concat(out)

    def dishonest_debtor(self, n: int) -> pl.DataFrame:
        out = []
        for dept, k in self.split(n, {"fy": 1.0}, "dishonest_debtor").items():
            b = self.batches_for(k)
            pub = self.dates_for(b, 4)
            filed = pub - self.rng.integers(30, 400, k)
            year = pl.Series(((filed / 365.25) + 1970).astype(np.int64).astype(str))
            removed = self.rng.random(k) < 0.1
            null = pl.Series([None] * k, dtype=pl.String)
            out.append(self.frame(dept, b, self.subjects_mixed(k, dept, 0.35), {
                "case_no": pl.select(pl.format("({}){}{}号", year, pl.lit(self.info(dept)["abbr"]), self.seqs(k))).to_series(),
                "court": pl.Series([self.info(dept)["name"]] * k),
                "filed_on": iso(filed), "published_on": iso(pub),
                "obligation": gather(["支付货款及利息", "偿还借款本金及利息", "支付工程款", "支付劳动报酬"], self.rng.integers(0, 4, k)),
                "performance": gather(["全部未履行", "全部未履行", "部分未履行"], self.rng.integers(0, 3, k)),
                "behaviour": gather(V.DEBTOR_BEHAVIOUR, self.rng.integers(0, len(V.DEBTOR_BEHAVIOUR), k)),
                "removed_on": where(removed, iso(np.minimum(pub + 60, self.bday[b] - 1)), null),
            }))
        return pl.concat(out)

    def serious_dishonesty_list(self, n: int) -> pl.DataFrame:
        out = []
        for dept, k in self.split(n, {"fgw": 1.0}, "serious_dishonesty_list").items():
            b = self.batches_for(k)
            d = self.dates_for(b, 3)
            li = self.rng.integers(0, len(V.SERIOUS_LISTS), k)
            year = pl.Series(((d / 365.25) + 1970).astype(np.int64).astype(str))
            removed = (self.rng.random(k) < 0.1) & (d + 365 < self.bday[b] - 1)
            null = pl.Series([None] * k, dtype=pl.String)
            out.append(self.frame(dept, b, self.subjects_mixed(k, dept, 0.0), {
                "list_name": gather([x[0] for x in V.SERIOUS_LISTS], li),
                "decision_no": pl.select(pl.format("{}信用〔{}〕{}号", pl.lit(self.info(dept)["abbr"]), year, self.seqs(k))).to_series(),
                "listed_by": pl.Series([self.info(dept)["name"]] * k),
                "basis": gather([x[1] for x in V.SERIOUS_LISTS], li),
                "reason": pl.Series(["存在严重失信行为，经认定列入严重失信主体名单"] * k),
                "listed_on": iso(d), "valid_until": iso(d + 3 * 365),
                "removed_on": where(removed, iso(d + 365), null),
            }))
        return pl.concat(out)

    def inspector(self, n_subjects: int) -> pl.DataFrame:
        out = []
        for dept, subs in self.submits.items():
            if "inspector" not in subs:
                continue
            k = max(12, n_subjects // 200)
            dept_no = list(self.w.depts).index(dept) + 1
            reg = np.array([r[0] for r in V.REGIONS])[self.rng.integers(0, len(V.REGIONS), k)]
            fields = V.INSPECTION_FIELDS.get(dept, ["综合执法"])
            out.append(self.frame(dept, np.zeros(k, dtype=np.int64), None, {
                "badge_no": pl.Series([f"1301{dept_no:02d}{i + 1:06d}" for i in range(k)]) if k < 1000 else
                pl.select(pl.format("1301{}{}", pl.lit(f"{dept_no:02d}"), pl.Series(np.arange(1, k + 1).astype(str)).str.zfill(6))).to_series(),
                "name": person_names(self.rng, k),
                "region_code": pl.Series(reg.tolist()),
                "field": gather(fields, self.rng.integers(0, len(fields), k)),
                "active": gather(["在岗"] * 9 + ["离岗"], self.rng.integers(0, 10, k)),
            }))
        return pl.concat(out)

    # ---------------------------------------------------------------- references
    def credit_repair(self, penalties: pl.DataFrame, serious: pl.DataFrame, n: int) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
        """Repairs of earlier penalties and list entries; returns the frame and the
        referenced row indices (to protect)."""
        dept = next((d for d, s in self.submits.items() if "credit_repair" in s), "fgw")
        pen_ok = np.flatnonzero(~penalties["severity"].eq("严重").fill_null(False).to_numpy()
                                & (penalties["_batch"].to_numpy() < len(self.reg_b) - 1 if len(self.reg_b) > 1 else True))
        k_p = min(len(pen_ok), max(2, n))
        pi = np.sort(self.rng.choice(pen_ok, k_p, replace=False)) if k_p else np.zeros(0, np.int64)
        si = np.flatnonzero(serious["removed_on"].is_null().to_numpy())
        k_s = min(len(si), max(1, n // 10))
        si = np.sort(self.rng.choice(si, k_s, replace=False)) if k_s else np.zeros(0, np.int64)
        frames = []
        for src, idx, cat, dcol, way in ((penalties, pi, "admin_penalty", "decided_on", "终止公示"),
                                         (serious, si, "serious_dishonesty_list", "listed_on", "移出名单")):
            if not len(idx):
                continue
            rows = src[idx]
            sb = rows["_batch"].to_numpy()
            b = np.minimum(sb + 1, len(self.reg_b) - 1)
            dec = rows[dcol].str.to_date("%Y-%m-%d").cast(pl.Int32).to_numpy()
            rep = self.dates_for(b, 1, not_before=dec + 1)
            cat_out = where(self.rng.random(len(idx)) < 0.5, cat, {"admin_penalty": "行政处罚", "serious_dishonesty_list": "严重失信主体名单"}[cat])
            frames.append(self.frame(dept, b, self.subject_block(rows["_sid"].to_numpy(), rows["_pid"].to_numpy()), {
                "repaired_category": cat_out,
                "repaired_record_no": rows["decision_no"],
                "repair_way": pl.Series([way] * len(idx)),
                "repaired_on": iso(rep),
                "decided_by": pl.Series([self.info(dept)["name"]] * len(idx)),
            }))
        return pl.concat(frames), pi, si

    def objection(self, penalties: pl.DataFrame, n: int, exclude: np.ndarray) -> tuple[pl.DataFrame, np.ndarray]:
        dept = next((d for d, s in self.submits.items() if "objection" in s), "fgw")
        cand = np.setdiff1d(np.arange(penalties.height), exclude)
        k = min(len(cand), max(2, n))
        idx = np.sort(self.rng.choice(cand, k, replace=False))
        rows = penalties[idx]
        b = np.full(k, len(self.reg_b) - 1)
        dec = rows["decided_on"].str.to_date("%Y-%m-%d").cast(pl.Int32).to_numpy()
        raised = self.dates_for(b, 1, not_before=dec + 1)
        closed = (self.rng.random(k) < 0.5) & (raised + 10 < self.bday[b] - 1)
        null = pl.Series([None] * k, dtype=pl.String)
        year = pl.Series(((raised / 365.25) + 1970).astype(np.int64).astype(str))
        df = self.frame(dept, b, self.subject_block(rows["_sid"].to_numpy(), rows["_pid"].to_numpy()), {
            "objection_no": pl.select(pl.format("YY{}{}", year, self.seqs(k).str.zfill(6))).to_series(),
            "objected_category": pl.Series(["admin_penalty"] * k),
            "objected_record_no": rows["decision_no"],
            "raised_on": iso(raised),
            "status": where(closed, "已办结", "处理中"),
            "outcome": where(closed, gather(["信息无误", "更正", "撤销"], self.rng.integers(0, 3, k)), null),
            "closed_on": where(closed, iso(raised + 10), null),
        })
        return df, idx


def dedupe_keys(df: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """One row per catalogue record key (the same pseudo-fields as ingestion)."""
    from ..catalogue.model import SUBJECT_CODE_FIELDS

    exprs = []
    for k in key:
        if k == "department_code":
            exprs.append(pl.col("_dept"))
        elif k == "subject_code":
            exprs.append(pl.coalesce([pl.col(c) for c in SUBJECT_CODE_FIELDS if c in df.columns]).alias(k))
        else:
            exprs.append(pl.col(k))
    return df.filter(pl.struct(exprs).is_first_distinct())


def generate_records(world: World, rng: np.random.Generator, catalogue, activity: float = 1.0) -> dict[str, pl.DataFrame]:
    """Every category's records. ``activity`` multiplies the routine records (licences,
    inspections, commitments: 1.0 per registered subject at 1.0), the volume knob of the
    benchmark: about 3 records per subject at 1.0, about 10 at 8.0."""
    submits = {d.code: list(d.submits) for d in catalogue.departments.values()}
    g = Gen(world, rng, submits)
    n = world.n_register
    cats: dict[str, pl.DataFrame] = {}
    cats["registration"] = g.registration()
    cats["admin_license"] = g.admin_license(int(0.5 * activity * n))
    cats["admin_penalty"] = g.admin_penalty(int(0.3 * n))
    cats["inspection"] = g.inspection(int(0.4 * activity * n))
    cats["abnormal_operation"] = g.abnormal_operation(int(0.05 * n))
    cats["credit_commitment"] = g.credit_commitment(int(0.1 * activity * n))
    cats["honor"] = g.honor(int(0.02 * n))
    cats["tax_credit_rating"] = g.tax_credit_rating(n)
    cats["dishonest_debtor"] = g.dishonest_debtor(int(0.012 * n))
    cats["serious_dishonesty_list"] = g.serious_dishonesty_list(int(0.006 * n))
    cats["inspector"] = g.inspector(n)
    repair, pi, si = g.credit_repair(cats["admin_penalty"], cats["serious_dishonesty_list"], int(0.02 * n))
    objection, oi = g.objection(cats["admin_penalty"], int(0.005 * n), pi)
    cats["credit_repair"] = repair
    cats["objection"] = objection
    prot = np.zeros(cats["admin_penalty"].height, bool)
    prot[pi] = True
    prot[oi] = True
    cats["admin_penalty"] = cats["admin_penalty"].with_columns(pl.Series("_protect", prot))
    prot = np.zeros(cats["serious_dishonesty_list"].height, bool)
    prot[si] = True
    cats["serious_dishonesty_list"] = cats["serious_dishonesty_list"].with_columns(pl.Series("_protect", prot))
    # the register rows of every referenced subject must stay loaded
    referenced = np.unique(np.concatenate([c["_sid"].to_numpy() for k, c in cats.items() if k != "registration"]))
    reg = cats["registration"]
    cats["registration"] = reg.with_columns(pl.Series("_protect", np.isin(np.arange(reg.height), referenced)))
    # record keys must be unique among clean rows
    return {k: dedupe_keys(v, catalogue.categories[k].record_key) for k, v in cats.items()
            if k in catalogue.categories}
