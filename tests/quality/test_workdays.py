import datetime as dt

import duckdb

from pipelines.quality.masking import mask_ids
from pipelines.quality.workdays import register_workday_calendar, workday_calendar

d = dt.date


def _lag(cal, a, b):
    idx = dict(zip(cal["d"], cal["workday_index"], strict=True))
    return int(idx[b] - idx[a])


def test_national_day_2025_with_adjusted_workdays():
    cal = workday_calendar(d(2025, 9, 1), d(2025, 10, 31))
    work = dict(zip(cal["d"], cal["is_workday"], strict=True))
    assert work[d(2025, 9, 28)] and work[d(2025, 10, 11)]  # adjusted Sunday / Saturday
    assert not any(work[d(2025, 10, i)] for i in range(1, 9))  # 国庆 + 中秋 Oct 1–8
    assert work[d(2025, 10, 9)]
    assert _lag(cal, d(2025, 9, 30), d(2025, 10, 9)) == 1
    assert _lag(cal, d(2025, 9, 17), d(2025, 10, 9)) == 11
    assert _lag(cal, d(2025, 10, 10), d(2025, 10, 20)) == 7  # counts Sat Oct 11


def test_spring_festival_2026():
    cal = workday_calendar(d(2026, 2, 1), d(2026, 3, 6))
    work = dict(zip(cal["d"], cal["is_workday"], strict=True))
    assert work[d(2026, 2, 14)] and work[d(2026, 2, 28)]  # adjusted Saturdays
    assert not work[d(2026, 2, 16)] and not work[d(2026, 2, 23)]
    assert _lag(cal, d(2026, 2, 13), d(2026, 2, 24)) == 2  # Sat 14th, Tue 24th


def test_outside_official_years_falls_back_to_weekdays():
    cal = workday_calendar(d(2027, 1, 1), d(2027, 1, 10))
    assert not cal["official"].any()
    assert list(cal["is_workday"]) == [x.weekday() < 5 for x in cal["d"]]


def test_calendar_joins_in_duckdb():
    con = duckdb.connect()
    name = register_workday_calendar(con, d(2025, 9, 1), d(2025, 10, 31))
    n = con.execute(f"select count(*) filter (where is_workday) from {name} where d between '2025-10-01' and '2025-10-12'").fetchall()[0][0]
    assert n == 3  # Oct 9, 10, 11


def test_masking():
    assert mask_ids("证件号码 360402199001010071；36040219900101007X") == "证件号码 3604**********0071；3604**********007X"
    assert mask_ids("统一社会信用代码 91350100M000100Y43") == "统一社会信用代码 91350100M000100Y43"
