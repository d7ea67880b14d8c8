"""Data-quality reports auditors can trust: validation documentation (great-expectations),
a scorecard over the audit tables (DuckDB SQL) and a self-contained HTML report.

- ``gx_suites``: expectation suites generated from the catalogue, validations per
  delivered file, an offline Data Docs site.
- ``scorecard``: completeness / validity / uniqueness / timeliness / consistency per
  department and category, a weighted score, trend over batches.
- ``report``: ``reports/quality/<as_of>/index.html`` and the history index.
"""

from .masking import mask_id, mask_ids
from .workdays import register_workday_calendar, workday_calendar

__all__ = ["mask_id", "mask_ids", "register_workday_calendar", "workday_calendar"]
