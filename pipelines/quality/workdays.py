"""The official working-day calendar (国务院办公厅 holiday arrangements with adjusted
working days, from the ``chinese_calendar`` package) as a table, so timeliness is a join.

``workday_calendar(start, end)`` → one row per date: ``d DATE, is_workday BOOLEAN,
workday_index BIGINT`` (cumulative number of working days up to and including ``d``),
``official BOOLEAN`` (false where the package has no data and Monday–Friday was used).

The number of working days from a decision on ``D`` to a delivery on ``B`` is
``idx(B) - idx(D)``: working days after the decision day, up to and including the
delivery day (decision on Thursday, delivery next Monday = 2).
"""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import numpy as np
import pandas as pd

TABLE = "quality_workdays"


def _official_years() -> tuple[int, int]:
    years = sorted({d.year for d in chinese_calendar.holidays} | {d.year for d in chinese_calendar.workdays})
    return years[0], years[-1]


def workday_calendar(start: dt.date, end: dt.date) -> pd.DataFrame:
    if end < start:
        start, end = end, start
    dates = pd.date_range(start, end, freq="D")
    weekday = dates.weekday < 5
    lo, hi = _official_years()
    official = (dates.year >= lo) & (dates.year <= hi)
    is_work = weekday.copy()
    # Holidays on weekdays are off, adjusted weekend working days are on.
    hol = pd.DatetimeIndex([pd.Timestamp(d) for d in chinese_calendar.holidays])
    adj = pd.DatetimeIndex([pd.Timestamp(d) for d in chinese_calendar.workdays])
    is_work = np.where(dates.isin(hol) & official, False, is_work)
    is_work = np.where(dates.isin(adj) & official, True, is_work)
    return pd.DataFrame(
        {
            "d": dates.date,
            "is_workday": is_work.astype(bool),
            "workday_index": np.cumsum(is_work.astype(np.int64)),
            "official": np.asarray(official, dtype=bool),
        }
    )


def register_workday_calendar(con, start: dt.date, end: dt.date, name: str = TABLE) -> str:
    """Register the calendar as a (temporary, in-connection) view ``name`` for SQL joins."""
    frame = workday_calendar(start, end)
    con.register(name, frame)
    return name
