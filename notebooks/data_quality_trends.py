"""数据质量趋势 / department data-quality trends over batches (marimo notebook).

    CREDIT_DATA_DIR=/path/to/data uv run marimo edit notebooks/data_quality_trends.py

Reads audit.loads, audit.row_outcomes, audit.rejected_rows and audit.code_resolutions on
short-lived read-only connections.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="数据质量趋势")


@app.cell
def _():
    import altair as alt
    import marimo as mo
    import polars as pl

    from pipelines.warehouse.notebook import query, warehouse

    WAREHOUSE = warehouse()
    return WAREHOUSE, alt, mo, pl, query


@app.cell
def _(WAREHOUSE, mo, query):
    departments = query("select distinct department_code from audit.loads where department_code is not null order by 1")
    _options = ["（全部 / all）"] + list(departments["department_code"])
    department_pick = mo.ui.dropdown(options=_options, value=_options[0], label="部门 / department")
    mo.vstack([mo.md(f"# 数据质量趋势 / Data-quality trends\n\nWarehouse: `{WAREHOUSE}`"), department_pick])
    return (department_pick,)


@app.cell
def _(department_pick):
    dept_filter = None if department_pick.value.startswith("（") else department_pick.value
    return (dept_filter,)


@app.cell
def _(dept_filter, query):
    # Batches: the delivery date; a batch without a date (e.g. "最新数据") sorts by its load time.
    batches = query(
        """
        with l as (
            select *, coalesce(batch_date, cast(loaded_at as date)) as batch_day
            from audit.loads where (? is null or department_code = ?)
        ), o as (
            select o.department_code, l.batch_day, l.batch,
                   count(*) as rows_read,
                   count(*) filter (where outcome = 'loaded') as rows_loaded,
                   count(*) filter (where outcome = 'rejected') as rows_rejected,
                   count(*) filter (where outcome = 'duplicate') as rows_duplicate,
                   count(*) filter (where outcome = 'superseded') as rows_superseded
            from audit.row_outcomes o join l using (load_id)
            group by all
        ), f as (
            select department_code, batch_day, batch, count(*) as files,
                   count(*) filter (where status = 'rejected_file') as files_rejected,
                   count(*) filter (where status = 'duplicate_file') as files_duplicate
            from l group by all
        )
        select f.department_code, f.batch_day, f.batch, f.files, f.files_rejected, f.files_duplicate,
               coalesce(o.rows_read, 0) as rows_read, coalesce(o.rows_loaded, 0) as rows_loaded,
               coalesce(o.rows_rejected, 0) as rows_rejected,
               coalesce(o.rows_duplicate, 0) as rows_duplicate,
               coalesce(o.rows_superseded, 0) as rows_superseded,
               round(100.0 * coalesce(o.rows_rejected, 0) / nullif(o.rows_read, 0), 2) as rejection_pct
        from f left join o using (department_code, batch_day, batch)
        order by f.batch_day, f.department_code, f.batch
        """,
        [dept_filter, dept_filter],
    )
    return (batches,)


@app.cell
def _(alt, batches, mo):
    _rate = (alt.Chart(batches).mark_line(point=True)
             .encode(x=alt.X("batch_day:T", title="批次日期 / batch date"),
                     y=alt.Y("rejection_pct:Q", title="拒收率 % / rejected rows %"),
                     color=alt.Color("department_code:N", title="部门"),
                     tooltip=["department_code", "batch", "rows_read", "rows_rejected", "rejection_pct",
                              "files_rejected"])
             .properties(width=520, height=240, title="行拒收率 / row rejection rate per batch"))
    _files = (alt.Chart(batches).mark_bar()
              .encode(x=alt.X("batch_day:T", title="批次日期"),
                      y=alt.Y("files_rejected:Q", title="拒收文件数 / rejected files"),
                      color=alt.Color("department_code:N", title="部门"),
                      tooltip=["department_code", "batch", "files", "files_rejected", "files_duplicate"])
              .properties(width=520, height=160, title="拒收文件 / rejected files per batch"))
    mo.vstack([
        mo.md(f"## 批次 / Batches — {batches.height} 个部门批次, {int(batches['rows_read'].sum() or 0)} 行"),
        mo.ui.altair_chart(_rate),
        mo.ui.altair_chart(_files),
        mo.ui.table(batches, selection=None, page_size=20),
    ])
    return


@app.cell
def _(alt, dept_filter, mo, query):
    rules = query(
        """
        select department_code, rule_id, count(*) as rows_rejected,
               any_value(reasons) as example_reason
        from (select department_code, unnest(rule_ids) as rule_id, reasons
              from audit.rejected_rows where (? is null or department_code = ?))
        group by all order by rows_rejected desc, department_code, rule_id
        """,
        [dept_filter, dept_filter],
    )
    _chart = (alt.Chart(rules).mark_bar()
              .encode(y=alt.Y("rule_id:N", title="规则 / rule", sort="-x"),
                      x=alt.X("sum(rows_rejected):Q", title="拒收行数 / rejected rows"),
                      color=alt.Color("department_code:N", title="部门"),
                      tooltip=["department_code", "rule_id", "rows_rejected", "example_reason"])
              .properties(width=460, height=alt.Step(18), title="拒收原因 / rejected rows by rule"))
    mo.vstack([mo.md("## 拒收规则 / Rejections by rule"), mo.ui.altair_chart(_chart),
               mo.ui.table(rules, selection=None)])
    return (rules,)


@app.cell
def _(dept_filter, mo, query):
    files = query(
        """select department_code, batch, source_file, status, reason
           from audit.loads where status <> 'loaded' and (? is null or department_code = ?)
           order by batch, source_file""",
        [dept_filter, dept_filter],
    )
    codes = query(
        """select department_code, status, method, count(*) as refs, round(avg(confidence), 3) as avg_confidence
           from audit.code_resolutions where (? is null or department_code = ?)
           group by all order by department_code, refs desc""",
        [dept_filter, dept_filter],
    )
    mo.vstack([
        mo.md("## 拒收 / 重复文件 / Files not loaded"), mo.ui.table(files, selection=None),
        mo.md("## 重错码治理 / Code repairs by department (audit.code_resolutions)"),
        mo.ui.table(codes, selection=None),
    ])
    return codes, files


if __name__ == "__main__":
    app.run()
