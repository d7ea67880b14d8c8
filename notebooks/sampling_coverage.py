"""双随机抽查覆盖 / sampling plan vs population, drawn subjects by grade (marimo notebook).

    CREDIT_DATA_DIR=/path/to/data uv run marimo edit notebooks/sampling_coverage.py

Reads marts.sampling_plan, marts.inspection_draw and marts.sampling_candidates on
short-lived read-only connections.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="双随机抽查覆盖")


@app.cell
def _():
    import altair as alt
    import marimo as mo
    import polars as pl

    from pipelines.warehouse.notebook import grade_colors, query, warehouse

    WAREHOUSE = warehouse()
    GRADE_COLORS = grade_colors()
    return GRADE_COLORS, WAREHOUSE, alt, mo, pl, query


@app.cell
def _(WAREHOUSE, mo, query):
    periods = query("select distinct period from marts.sampling_plan order by period desc")
    _p = list(periods["period"])
    mo.stop(not _p, mo.md(f"**`{WAREHOUSE}` 中没有抽查计划 / no sampling plan yet** — run `credit run` first."))
    period_pick = mo.ui.dropdown(options=_p, value=_p[0], label="抽查周期 / period")
    mo.vstack([mo.md(f"# 双随机、一公开 / Sampling coverage\n\nWarehouse: `{WAREHOUSE}`"), period_pick])
    return (period_pick,)


@app.cell
def _(period_pick, query):
    plan = query(
        """
        select p.department_code, p.grade, p.population, p.eligible, p.excluded_by_frequency,
               p.ratio, p.minimum_per_stratum, p.sample_size,
               coalesce(d.drawn, 0) as drawn,
               round(100.0 * coalesce(d.drawn, 0) / nullif(p.population, 0), 1) as coverage_pct,
               p.seed
        from marts.sampling_plan p
        left join (select department_code, period, grade, count(*) as drawn
                   from marts.inspection_draw group by all) d
          using (department_code, period, grade)
        where p.period = ?
        order by p.department_code, p.grade
        """,
        [period_pick.value],
    )
    return (plan,)


@app.cell
def _(GRADE_COLORS, alt, mo, pl, plan):
    _mismatch = plan.filter(pl.col("drawn") != pl.col("sample_size")).height
    _long = plan.unpivot(index=["department_code", "grade"], on=["population", "drawn"],
                         variable_name="measure", value_name="subjects")
    _chart = (alt.Chart(_long).mark_bar()
              .encode(x=alt.X("grade:N", title="等级"), xOffset="measure:N",
                      y=alt.Y("subjects:Q", title="主体数 / subjects"),
                      color=alt.Color("grade:N", scale=GRADE_COLORS, legend=None),
                      opacity=alt.Opacity("measure:N", sort=["population", "drawn"],
                                          scale=alt.Scale(range=[0.35, 1.0]), title="总体 / 抽中"),
                      column=alt.Column("department_code:N", title="部门 / department"),
                      tooltip=["department_code", "grade", "measure", "subjects"])
              .properties(width=130, height=200))
    mo.vstack([
        mo.md(f"## 计划与总体 / Plan vs population — {int(plan['drawn'].sum())} drawn of "
              f"{int(plan['population'].sum())} in scope; {_mismatch} strata where drawn ≠ sample_size"),
        mo.ui.altair_chart(_chart),
        mo.ui.table(plan, selection=None, page_size=25),
    ])
    return


@app.cell
def _(mo, period_pick, pl, query):
    per_department = query(
        """
        select c.department_code,
               count(*) filter (where c.in_pool) as pool,
               count(*) filter (where c.is_eligible) as eligible,
               count(d.subject_id) as drawn,
               count(*) filter (where d.subject_id is not null and not d.avoidance_met) as avoidance_not_met,
               string_agg(distinct c.exclusion_reason, '；') as exclusion_reasons
        from marts.sampling_candidates c
        left join marts.inspection_draw d using (department_code, period, subject_id)
        where c.period = ?
        group by all order by 1
        """,
        [period_pick.value],
    )
    draws = query(
        """select department_code, draw_rank, grade, subject_id, name, region_code,
                  inspector_1, inspector_2, avoidance_met
           from marts.inspection_draw where period = ? order by department_code, draw_rank""",
        [period_pick.value],
    )
    by_grade = draws.group_by("grade").agg(pl.len().alias("drawn")).sort("grade")
    mo.vstack([
        mo.md("## 每个部门 / Per department (检查对象名录库 → 抽中)"),
        mo.ui.table(per_department, selection=None),
        mo.md("## 抽中主体按等级 / Drawn subjects by grade"),
        mo.ui.table(by_grade, selection=None),
        mo.md(f"## 抽查结果（一公开） / Published draw — {draws.height} subjects"),
        mo.ui.table(draws, selection=None, page_size=20),
    ])
    return by_grade, draws, per_department


if __name__ == "__main__":
    app.run()
