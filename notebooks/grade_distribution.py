"""信用等级分布 / grade distribution by region and industry (marimo notebook).

    CREDIT_DATA_DIR=/path/to/data uv run marimo edit notebooks/grade_distribution.py

Reads marts.credit_grades and marts.subjects on short-lived read-only connections.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="信用等级分布")


@app.cell
def _():
    import altair as alt
    import marimo as mo

    from pipelines.warehouse.notebook import grade_colors, query, warehouse

    WAREHOUSE = warehouse()
    GRADE_COLORS = grade_colors()
    return GRADE_COLORS, WAREHOUSE, alt, mo, query


@app.cell
def _(WAREHOUSE, mo, query):
    evaluations = query("select distinct as_of from marts.credit_grades order by as_of desc")
    _dates = [d.isoformat() for d in evaluations["as_of"]]
    mo.stop(not _dates, mo.md(f"**`{WAREHOUSE}` 中没有评价结果 / no evaluation yet** — run `credit run` first."))
    as_of_pick = mo.ui.dropdown(options=_dates, value=_dates[0], label="评价日期 / evaluation date")
    region_level = mo.ui.dropdown(options={"市 (4 位)": 4, "区县 (6 位)": 6, "省 (2 位)": 2},
                                  value="市 (4 位)", label="区划层级 / region level")
    industry_level = mo.ui.dropdown(options={"门类 (1 位)": 1, "大类 (3 位)": 3, "中类 (4 位)": 4},
                                    value="门类 (1 位)", label="行业层级 / industry level")
    mo.vstack([
        mo.md(f"# 信用等级分布 / Grade distribution\n\nWarehouse: `{WAREHOUSE}`"),
        mo.hstack([as_of_pick, region_level, industry_level], justify="start"),
    ])
    return as_of_pick, industry_level, region_level


@app.cell
def _(as_of_pick, industry_level, query, region_level):
    grades = query(
        """
        select g.subject_id, g.grade, g.score, g.grade_reason, g.override_applied,
               s.subject_kind,
               coalesce(left(s.region_code, ?), '（未知）') as region,
               coalesce(left(s.industry_code, ?), '（未知）') as industry
        from marts.credit_grades g
        join marts.subjects s using (subject_id)
        where g.as_of = cast(? as date)
        """,
        [region_level.value, industry_level.value, as_of_pick.value],
    )
    return (grades,)


@app.cell
def _(GRADE_COLORS, alt, as_of_pick, grades, mo):
    import polars as pl

    overall = (grades.group_by("grade").agg(pl.len().alias("subjects"))
               .with_columns((pl.col("subjects") / pl.col("subjects").sum() * 100).round(1).alias("pct"))
               .sort("grade"))
    _chart = (alt.Chart(overall).mark_bar()
              .encode(x=alt.X("grade:N", title="等级 / grade"),
                      y=alt.Y("subjects:Q", title="主体数 / subjects"),
                      color=alt.Color("grade:N", scale=GRADE_COLORS, legend=None),
                      tooltip=["grade", "subjects", "pct"])
              .properties(width=320, height=220, title=f"全部主体 / all subjects ({as_of_pick.value})"))
    mo.vstack([
        mo.md(f"## 总体 / Overall — {grades.height} 个主体"),
        mo.hstack([mo.ui.altair_chart(_chart), mo.ui.table(overall, selection=None)], justify="start"),
    ])
    return overall, pl


@app.cell
def _(GRADE_COLORS, alt, grades, mo, pl):
    def by(col: str, title: str):
        counts = grades.group_by(col, "grade").agg(pl.len().alias("subjects")).sort(col, "grade")
        wide = (counts.pivot(on="grade", index=col, values="subjects", sort_columns=True)
                .fill_null(0))
        for g in "ABCD":
            if g not in wide.columns:
                wide = wide.with_columns(pl.lit(0).alias(g))
        wide = (wide.select(col, "A", "B", "C", "D")
                .with_columns(pl.sum_horizontal("A", "B", "C", "D").alias("total"))
                .with_columns(((pl.col("C") + pl.col("D")) / pl.col("total") * 100).round(1)
                              .alias("C+D %"))
                .sort("total", descending=True))
        chart = (alt.Chart(counts).mark_bar()
                 .encode(y=alt.Y(f"{col}:N", title=title, sort="-x"),
                         x=alt.X("subjects:Q", stack="normalize", title="占比 / share"),
                         color=alt.Color("grade:N", scale=GRADE_COLORS, title="等级"),
                         order=alt.Order("grade:N"),
                         tooltip=[col, "grade", "subjects"])
                 .properties(width=420, height=alt.Step(16)))
        return chart, wide

    region_chart, by_region = by("region", "区划 / region")
    industry_chart, by_industry = by("industry", "行业 / industry")
    mo.vstack([
        mo.md("## 按区划 / By region"),
        mo.hstack([mo.ui.altair_chart(region_chart), mo.ui.table(by_region, selection=None, page_size=15)],
                  justify="start"),
        mo.md("## 按行业 / By industry (GB/T 4754)"),
        mo.hstack([mo.ui.altair_chart(industry_chart), mo.ui.table(by_industry, selection=None, page_size=15)],
                  justify="start"),
    ])
    return by_industry, by_region


@app.cell
def _(grades, mo, pl):
    reasons = (grades.group_by("grade", "grade_reason").agg(pl.len().alias("subjects"))
               .sort("grade", "subjects", descending=[False, True]))
    mo.vstack([mo.md("## 等级依据 / Grade reasons (overrides name themselves)"),
               mo.ui.table(reasons, selection=None)])
    return (reasons,)


if __name__ == "__main__":
    app.run()
