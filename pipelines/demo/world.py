"""The true world behind the demo exports: the subject register, subjects outside it,
natural persons, departments and delivery batches. Everything vectorised."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from ..codes.generate import ascii_series, make_id_numbers, make_reg_nos, make_usccs
from . import vocab as V

EPOCH = dt.date(1970, 1, 1)


def day(d: dt.date) -> int:
    return (d - EPOCH).days


def to_dates(days: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(days, dtype=np.int32)).cast(pl.Date)


def iso(days: np.ndarray) -> pl.Series:
    return to_dates(days).dt.to_string("%Y-%m-%d")


def gather(values, idx: np.ndarray) -> pl.Series:
    return pl.Series(list(values), dtype=pl.String).gather(np.asarray(idx, dtype=np.int64))


def where(mask: np.ndarray, a, b) -> pl.Series:
    """Vectorised choice between two series / scalars by a numpy mask."""
    a = a if isinstance(a, pl.Series) else pl.lit(a)
    b = b if isinstance(b, pl.Series) else pl.lit(b)
    return pl.select(pl.when(pl.Series(np.asarray(mask, dtype=bool))).then(a).otherwise(b)).to_series()


# --------------------------------------------------------------------------- batches
@dataclass(frozen=True)
class Batch:
    name: str
    date: dt.date
    regular: bool  # carries new records (the `_2` batch carries corrections)

    @property
    def day(self) -> int:
        return day(self.date)


def batch_plan(as_of: dt.date, batches: int) -> list[Batch]:
    """Monthly deliveries before ``as_of`` (working days), alternating name styles, plus
    a second delivery (``_2``) on the last date carrying corrections."""
    out: list[Batch] = []
    for k in range(batches):
        months_back = batches - k
        y, m = as_of.year, as_of.month - months_back
        while m <= 0:
            m += 12
            y -= 1
        d = dt.date(y, m, min(3 + 2 * (k % 4), 28))
        while d.weekday() >= 5:
            d += dt.timedelta(days=1)
        if d >= as_of:
            d = as_of - dt.timedelta(days=batches - k)
        name = d.strftime("%Y%m%d") if k % 2 == 0 else d.isoformat()
        out.append(Batch(name, d, True))
    last = out[-1]
    out.append(Batch(last.name + "_2", last.date, False))
    return out


# --------------------------------------------------------------------------- people
def person_names(rng: np.random.Generator, n: int) -> pl.Series:
    w = np.array(V.SURNAME_WEIGHTS)
    sur = gather(V.SURNAMES, rng.choice(len(V.SURNAMES), n, p=w / w.sum()))
    g1 = gather(V.GIVEN_CHARS, rng.integers(0, len(V.GIVEN_CHARS), n))
    g2 = gather(V.GIVEN_CHARS, rng.integers(0, len(V.GIVEN_CHARS), n))
    two = rng.random(n) < 0.7
    return pl.select(pl.concat_str([sur, g1, where(two, g2, "")])).to_series()


def id_numbers(rng: np.random.Generator, n: int, born_from="1955-01-01", born_to="2000-12-31") -> np.ndarray:
    lo = np.datetime64(born_from, "D").astype(np.int64)
    hi = np.datetime64(born_to, "D").astype(np.int64)
    births = rng.integers(lo, hi + 1, n).astype("datetime64[D]")
    young = births >= np.datetime64("1984-01-01")
    new = np.array(V.ID_REGIONS_NEW)[rng.integers(0, len(V.ID_REGIONS_NEW), n)]
    old = np.array(V.ID_REGIONS_OLD)[rng.integers(0, len(V.ID_REGIONS_OLD), n)]
    return make_id_numbers(rng, n, np.where(young, new, old), births=births)


# --------------------------------------------------------------------------- world
@dataclass
class World:
    subjects: pl.DataFrame  # register subjects then outside subjects; row index = sid
    persons: pl.DataFrame  # row index = pid
    n_register: int
    batches: list[Batch]
    as_of: dt.date
    depts: dict[str, dict] = field(default_factory=dict)
    dup_code_pairs: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    multi_code_pairs: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))

    @property
    def regular_batches(self) -> list[int]:
        return [i for i, b in enumerate(self.batches) if b.regular]


_ENTITY = ["企业", "个体工商户", "农民专业合作社", "社会组织", "事业单位", "机关"]
_ENTITY_P = [0.70, 0.21, 0.03, 0.025, 0.02, 0.015]
_AUTHORITY_SUFFIX = ["市场监督管理局", "市场监督管理局", "市场监督管理局", "民政局", "机构编制委员会办公室", "机构编制委员会办公室"]
_STATUS = ["存续", "在业", "迁出", "吊销", "注销", "撤销"]
_STATUS_P = [0.80, 0.10, 0.01, 0.035, 0.05, 0.005]
_ROADS = ["中山路", "建设大街", "裕华路", "和平路", "胜利大街", "友谊大街", "槐安路", "体育大街", "新华路", "北京大街", "光明路", "人民路"]


def _company_names(rng, n, pre: pl.Series, mid: pl.Series, suffix: pl.Series, person: pl.Series | None,
                   is_person: np.ndarray) -> tuple[pl.Series, pl.Series]:
    """pre + 字号 (or a person's name) + mid + suffix, made unique by lengthening the 字号."""
    zh = pl.select(pl.concat_str([
        gather(V.ZIHAO_CHARS, rng.integers(0, len(V.ZIHAO_CHARS), n)),
        gather(V.ZIHAO_CHARS, rng.integers(0, len(V.ZIHAO_CHARS), n)),
    ])).to_series()
    if person is not None:
        zh = where(is_person, person, zh)
    for _ in range(12):
        name = pl.select(pl.concat_str([pre, zh, mid, suffix])).to_series()
        dup = ~name.is_first_distinct().to_numpy()
        if not dup.any():
            break
        extra = gather(V.ZIHAO_CHARS + V.GIVEN_CHARS, rng.integers(0, len(V.ZIHAO_CHARS) + len(V.GIVEN_CHARS), n))
        zh = where(dup, pl.select(pl.concat_str([zh, extra])).to_series(), zh)
    else:  # pragma: no cover - practically unreachable
        name = pl.select(pl.concat_str([pre, zh, mid, suffix, pl.Series(np.arange(n).astype(str))])).to_series()
    return name, zh


def build_world(rng: np.random.Generator, n: int, as_of: dt.date, batches: int, *,
                multi_code_pairs: int = 1, dup_code_pairs: int = 1, depts: list[str] | None = None) -> World:
    plan = batch_plan(as_of, batches)
    last_day = max(b.day for b in plan)

    # ---- register subjects
    et = rng.choice(len(_ENTITY), n, p=_ENTITY_P)
    city_w = np.array([V.CITY_WEIGHT.get(c, 0.6) for _, _, c in V.REGIONS])
    reg_idx = rng.choice(len(V.REGIONS), n, p=city_w / city_w.sum())
    region_code = np.array([r[0] for r in V.REGIONS])[reg_idx]
    district = gather([r[1] for r in V.REGIONS], reg_idx)
    city = gather([r[2] for r in V.REGIONS], reg_idx)
    city_short = city.str.strip_suffix("市")
    ind_idx = rng.integers(0, len(V.INDUSTRIES), n)
    shop_idx = rng.integers(0, len(V.SHOPS), n)
    is_sole = et == 1
    industry_code = np.where(is_sole, np.array([s[0] for s in V.SHOPS])[shop_idx],
                             np.array([i[0] for i in V.INDUSTRIES])[ind_idx])
    scope = np.where(is_sole, "scjg", np.array([i[3] for i in V.INDUSTRIES])[ind_idx])

    owner = person_names(rng, n)
    pre_company = where(rng.random(n) < 0.1, "河北", city_short)
    pre = pl.select(
        pl.when(pl.Series(et == 0)).then(pre_company)
        .when(pl.Series(et == 1)).then(pl.concat_str([city, district]))
        .when(pl.Series(et == 2)).then(district)
        .when(pl.Series(et == 3)).then(city)
        .otherwise(pl.concat_str([city, district]))
    ).to_series()
    mid = pl.select(
        pl.when(pl.Series(et == 0)).then(gather([i[1] for i in V.INDUSTRIES], ind_idx))
        .when(pl.Series(et == 1)).then(gather([s[1] for s in V.SHOPS], shop_idx))
        .when(pl.Series(et == 2)).then(gather(V.COOP_WORDS, rng.integers(0, len(V.COOP_WORDS), n)))
        .when(pl.Series(et == 3)).then(gather(V.SOCIAL_ORG, rng.integers(0, len(V.SOCIAL_ORG), n)))
        .when(pl.Series(et == 4)).then(gather(V.INSTITUTION, rng.integers(0, len(V.INSTITUTION), n)))
        .otherwise(gather(V.ORGAN, rng.integers(0, len(V.ORGAN), n)))
    ).to_series()
    suffix = pl.select(
        pl.when(pl.Series(et == 0)).then(gather(V.COMPANY_SUFFIX, rng.integers(0, len(V.COMPANY_SUFFIX), n)))
        .when(pl.Series(et == 2)).then(pl.lit("专业合作社"))
        .otherwise(pl.lit(""))
    ).to_series()
    name, zh = _company_names(rng, n, pre, mid, suffix, owner, is_sole)
    legal_rep = where(is_sole, zh, person_names(rng, n))

    prefix_by_et = np.array(["91", "92", "93", "51", "12", "11"])
    prefixes = prefix_by_et[et]
    prefixes = np.where((et == 3) & (rng.random(n) < 0.5), "52", prefixes)
    uscc = make_usccs(rng, n, prefixes, region_code)

    # establishment: mostly the last decades, some new ones between deliveries
    age = np.minimum(rng.exponential(8 * 365.25, n), 35 * 365.25)
    established = (plan[0].day - 1 - age).astype(np.int64)
    new = rng.random(n) < 0.02 * max(1, batches - 1)
    if batches > 1:
        established = np.where(new, rng.integers(plan[0].day, plan[batches - 1].day, n), established)
    established = np.maximum(established, day(dt.date(1980, 1, 1)))
    legacy = (established < day(dt.date(2016, 1, 1))) & (et <= 2)
    reg_no = np.where(legacy, make_reg_nos(rng, n, region_code), "")
    status_idx = rng.choice(len(_STATUS), n, p=_STATUS_P)
    status_idx = np.where(established >= plan[0].day - 365, 0, status_idx)
    capital = np.round(np.exp(rng.normal(np.log(200), 1.5, n)), 2)
    capital = np.where(is_sole, np.round(rng.uniform(1, 50, n), 1), capital)
    cap_null = ((et == 1) & (rng.random(n) < 0.6)) | (et >= 4)
    approved = established + (rng.random(n) * np.maximum(plan[0].day - 1 - established, 0)).astype(np.int64)
    approved = np.where(established >= plan[0].day, established, approved)
    address = pl.select(pl.concat_str([
        city, district, gather(_ROADS, rng.integers(0, len(_ROADS), n)),
        pl.Series(rng.integers(1, 400, n).astype(str)), pl.lit("号"),
    ])).to_series()
    authority = pl.select(pl.concat_str([city, district, gather(_AUTHORITY_SUFFIX, et)])).to_series()

    subjects = pl.DataFrame({
        "sid": np.arange(n),
        "uscc": ascii_series(uscc),
        "name": name,
        "subject_kind": where(is_sole, "个体工商户", "法人及非法人组织"),
        "entity_type": gather(_ENTITY, et),
        "reg_no": ascii_series(reg_no),
        "org_code": ascii_series(uscc),
        "region_code": ascii_series(region_code),
        "industry_code": ascii_series(industry_code),
        "scope_dept": ascii_series(scope),
        "status": gather(_STATUS, status_idx),
        "established_on": to_dates(established),
        "approved_on": to_dates(approved),
        "registered_capital": pl.Series(np.where(cap_null, np.nan, capital)).fill_nan(None),
        "legal_rep": legal_rep,
        "legal_rep_id_no": ascii_series(id_numbers(rng, n)),
        "address": address,
        "registration_authority": authority,
        "in_register": np.ones(n, dtype=bool),
    }).with_columns(
        pl.col("org_code").str.slice(8, 9),
        pl.when(pl.col("reg_no") == "").then(None).otherwise(pl.col("reg_no")).alias("reg_no"),
    )

    # ---- 多码: one name under two codes; 重码: one code registered under two names
    firms = np.flatnonzero(et == 0)
    need = 2 * multi_code_pairs + dup_code_pairs
    chosen = rng.choice(firms, size=min(need, len(firms)), replace=False) if need else np.zeros(0, np.int64)
    multi = chosen[: 2 * multi_code_pairs].reshape(-1, 2)
    dup = chosen[2 * multi_code_pairs:]
    if len(multi):
        names = subjects["name"].to_numpy().copy()
        names[multi[:, 1]] = names[multi[:, 0]]
        subjects = subjects.with_columns(pl.Series("name", names))

    # ---- subjects outside the register (valid codes, registered elsewhere)
    n_out = max(20, n // 50)
    o_reg = np.array(V.OUTSIDE_REGIONS)[rng.integers(0, len(V.OUTSIDE_REGIONS), n_out)]
    o_ind = rng.integers(0, len(V.INDUSTRIES), n_out)
    o_name, _ = _company_names(
        rng, n_out, gather(V.OUTSIDE_NAMES, rng.integers(0, len(V.OUTSIDE_NAMES), n_out)),
        gather([i[1] for i in V.INDUSTRIES], o_ind), pl.Series(["有限公司"] * n_out), None, np.zeros(n_out, bool))
    o_uscc = make_usccs(rng, n_out, "91", o_reg)
    outside = pl.DataFrame({
        "sid": np.arange(n, n + n_out),
        "uscc": ascii_series(o_uscc),
        "name": o_name,
        "subject_kind": ["法人及非法人组织"] * n_out,
        "entity_type": ["企业"] * n_out,
        "reg_no": pl.Series([None] * n_out, dtype=pl.String),
        "org_code": ascii_series(o_uscc),
        "region_code": ascii_series(o_reg),
        "industry_code": np.array([i[0] for i in V.INDUSTRIES])[o_ind],
        "scope_dept": ["scjg"] * n_out,
        "status": ["存续"] * n_out,
        "established_on": to_dates(rng.integers(day(dt.date(2000, 1, 1)), plan[0].day - 400, n_out)),
        "approved_on": pl.Series([None] * n_out, dtype=pl.Date),
        "registered_capital": np.round(rng.uniform(10, 1000, n_out), 2),
        "legal_rep": person_names(rng, n_out),
        "legal_rep_id_no": ascii_series(id_numbers(rng, n_out)),
        "address": pl.Series([None] * n_out, dtype=pl.String),
        "registration_authority": pl.Series([None] * n_out, dtype=pl.String),
        "in_register": np.zeros(n_out, dtype=bool),
    }).with_columns(pl.col("org_code").str.slice(8, 9))
    subjects = pl.concat([subjects, outside], how="vertical_relaxed")

    conflict = np.full(n + n_out, None, dtype=object)
    conflict[multi.ravel()] = "multiple_codes"
    conflict[dup] = "duplicate_code"
    all_digit = subjects["uscc"].str.contains(r"^\d{18}$").to_numpy()
    subjects = subjects.with_columns(
        pl.Series("conflict", conflict.tolist(), dtype=pl.String),
        pl.Series("all_digit", all_digit),
    )

    # ---- natural persons
    n_p = max(60, n // 20)
    persons = pl.DataFrame({
        "pid": np.arange(n_p),
        "name": person_names(rng, n_p),
        "id_no": ascii_series(id_numbers(rng, n_p, "1950-01-01", "2004-12-31")),
    })

    dep_info = {}
    codes = depts or list(V.DEPT_INFO)
    dep_usccs = make_usccs(rng, len(codes), "11", "130100")
    for i, code in enumerate(codes):
        info = dict(V.DEPT_INFO.get(code, V.DEFAULT_DEPT))
        info["name"] = info["name"].format(code=code)
        info["uscc"] = str(dep_usccs[i])
        dep_info[code] = info

    world = World(subjects, persons, n, plan, as_of, dep_info,
                  dup_code_pairs=dup.reshape(-1, 1) if len(dup) else np.zeros((0, 1), np.int64),
                  multi_code_pairs=multi)
    assert last_day < day(as_of) + 1
    return world
