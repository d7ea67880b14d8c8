"""评分解释 / score explanation for one subject (marimo notebook).

    CREDIT_DATA_DIR=/path/to/data uv run marimo edit notebooks/score_explanation.py

Type a 统一社会信用代码, a legacy code (注册号 / 组织机构代码) or a name. The subject is
found with pipelines.warehouse.lookup (the same search as `credit lookup`). Without input
the notebook shows the subject with the lowest score (or $CREDIT_SUBJECT).
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="评分解释")


@app.cell
def _():
    import os

    import altair as alt
    import duckdb
    import marimo as mo

    from pipelines.warehouse.lookup import GRADE_NAMES, lookup
    from pipelines.warehouse.notebook import query, warehouse

    WAREHOUSE = warehouse()

    def find(text):
        with duckdb.connect(str(WAREHOUSE), read_only=True) as _con:
            return lookup(_con, text)

    return GRADE_NAMES, WAREHOUSE, alt, find, mo, os, query


@app.cell
def _(os, query):
    _default = os.environ.get("CREDIT_SUBJECT", "")
    if not _default:
        _lowest = query("""select s.uscc, s.subject_id from marts.credit_grades g
                           join marts.subjects s using (subject_id)
                           where g.as_of = (select max(as_of) from marts.credit_grades)
                           order by g.score, g.subject_id limit 1""")
        if _lowest.height:
            _default = _lowest["uscc"][0] or _lowest["subject_id"][0]
    default_query = _default
    return (default_query,)


@app.cell
def _(WAREHOUSE, default_query, mo):
    subject_query = mo.ui.text(value=default_query, label="统一社会信用代码 / 名称 (USCC or name)",
                               full_width=True)
    mo.vstack([mo.md(f"# 评分解释 / Score explanation\n\nWarehouse: `{WAREHOUSE}`"), subject_query])
    return (subject_query,)


@app.cell
def _(find, mo, subject_query):
    mo.stop(not subject_query.value.strip(), mo.md("输入统一社会信用代码或名称 / type a code or a name."))
    found = find(subject_query.value)
    if not found["found"]:
        _cands = "\n".join(f"- {c['name']}（`{c.get('uscc') or c['subject_id']}`）"
                           for c in found["candidates"][:20])
        mo.stop(True, mo.md(f"**{found.get('error', '未找到该主体')}**\n\n{_cands}"))
    subject = found["subject"]
    subject_id = subject["subject_id"]
    return found, subject, subject_id


@app.cell
def _(GRADE_NAMES, found, mo, subject):
    _g = found["grade"] or {}
    _sanctions = "".join(f"\n- ⚠ {x['reason']}（等级最高为 {x['grade_cap']}）" for x in found["sanctions"])
    _suspended = "".join(f"\n- ⏸ {x['reason']}：异议处理中，暂不执行" for x in found["suspended"])
    mo.md(f"""
## {subject['name']}

| | |
|---|---|
| 统一社会信用代码 / USCC | `{subject.get('uscc') or '—'}` |
| 主体编号 / subject_id | `{subject['subject_id']}` |
| 主体类别 / kind | {subject.get('subject_kind') or '—'} |
| 区划 / 行业 | {subject.get('region_code') or '—'} / {subject.get('industry_code') or '—'} |
| 登记状态 / status | {subject.get('status') or '—'} |
| 法定代表人身份证号（脱敏） | {subject.get('legal_rep_id_masked') or '—'} |
| **信用等级 / grade** | **{_g.get('grade', '—')}** {GRADE_NAMES.get(_g.get('grade'), '')} |
| 综合评分 / score | {_g.get('score', '—')}（评价日期 {_g.get('as_of', '—')}，模型 {_g.get('model_version', '—')}） |
| 等级依据 / reason | {_g.get('grade_reason', '—')} |

**适用的惩戒措施 / sanctions:** {'无' if not found['sanctions'] else ''}{_sanctions}{_suspended}
""")
    return


@app.cell
def _(query, subject_id):
    history = query("""select as_of, score, grade, score_grade, override_applied, grade_reason, model_version
                       from marts.credit_grades where subject_id = ? order by as_of""", [subject_id])
    evaluation_dates = [d.isoformat() for d in history["as_of"]]
    return evaluation_dates, history


@app.cell
def _(evaluation_dates, mo):
    mo.stop(not evaluation_dates, mo.md("该主体暂无评价结果 / no evaluation for this subject."))
    as_of_pick = mo.ui.dropdown(options=evaluation_dates, value=evaluation_dates[-1],
                                label="评价日期 / evaluation date")
    mo.output.replace(as_of_pick)
    return (as_of_pick,)


@app.cell
def _(as_of_pick, query, subject_id):
    components = query("""select dimension, dimension_code, indicator, indicator_name, value, points
                          from marts.score_components where subject_id = ? and as_of = cast(? as date)
                          order by dimension_code, indicator = '_base' desc, indicator""",
                       [subject_id, as_of_pick.value])
    return (components,)


@app.cell
def _(alt, components, history, mo):
    import polars as pl

    by_dimension = (components.group_by("dimension", "dimension_code")
                    .agg(pl.col("points").sum().alias("points"),
                         (pl.col("indicator").is_in(["_base", "_bound"]).not_() & (pl.col("points") != 0))
                         .sum().alias("indicators_applied"))
                    .sort("dimension_code"))
    _total = components["points"].sum()
    _indicators = components.filter(pl.col("points") != 0)
    _chart = (alt.Chart(_indicators).mark_bar()
              .encode(y=alt.Y("indicator_name:N", title=None, sort=None),
                      x=alt.X("points:Q", title="分值 / points"),
                      color=alt.Color("dimension:N", title="维度 / dimension"),
                      tooltip=["dimension", "indicator", "indicator_name", "value", "points"])
              .properties(width=460, height=alt.Step(18), title="评分构成 / score components"))
    _hist = (alt.Chart(history).mark_line(point=True)
             .encode(x=alt.X("as_of:T", title="评价日期"), y=alt.Y("score:Q", title="评分", scale=alt.Scale(domain=[0, 1000])),
                     tooltip=["as_of", "score", "grade", "grade_reason"])
             .properties(width=460, height=160, title="评分历史 / score history"))
    mo.vstack([
        mo.md(f"## 评分构成 / Score breakdown — Σ points = {_total:g}"),
        mo.hstack([mo.ui.table(by_dimension, selection=None), mo.ui.altair_chart(_chart)], justify="start"),
        mo.md("### 指标明细 / Indicators (`_base` = 维度基础分, `_bound` = 维度上下限修正)"),
        mo.ui.table(components, selection=None, page_size=30),
        mo.md("## 等级历史 / Grade history"),
        mo.ui.altair_chart(_hist),
        mo.ui.table(history, selection=None),
    ])
    return by_dimension, pl


@app.cell
def _(found, mo, pl):
    _records = pl.DataFrame(found["active_records"], infer_schema_length=None) if found["active_records"] else None
    mo.vstack([
        mo.md(f"## 有效信用记录 / Active records ({len(found['active_records'])})"),
        mo.ui.table(_records, selection=None) if _records is not None else mo.md("无 / none"),
    ])
    return


if __name__ == "__main__":
    app.run()
