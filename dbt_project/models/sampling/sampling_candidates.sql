{{ config(materialized=delta_materialization(), incremental_strategy='subject_delta',
          on_schema_change='append_new_columns') }}
{{ delta_depends_on() }}
-- marts.sampling_candidates: every subject in a department's supervision scope
-- (catalogs/sampling/sampling_scopes.csv) as of the evaluation date, with its grade,
-- whether it is in the candidate pool (status 存续/在业, graded) and eligible (not
-- excluded by the frequency limit of its grade), and its draw key
-- sha256(seed|period|department_code|subject_id) — see docs/sampling.md.
with ctx as (select * from {{ ref('sampling_context') }}),

scopes as (select * from {{ ref('sampling_scopes') }}),

subjects as (select * from {{ ref('subjects') }} where {{ delta_filter('subject_id') }}),

records as (
    select subject_id, category, department_code, decided_on, is_active, is_withdrawn
    from {{ ref('credit_records') }}
    where subject_id is not null
      and {{ delta_filter('subject_id') }}
),

matches as (
    select sc.department_code, s.subject_id, sc.rule
    from scopes as sc
    join subjects as s on sc.rule = 'all'
    union all
    select sc.department_code, s.subject_id, sc.rule
    from scopes as sc
    join subjects as s
        on sc.rule = 'industry_prefix' and starts_with(s.industry_code, sc.value)
    union all
    select sc.department_code, s.subject_id, sc.rule
    from scopes as sc
    join subjects as s
        on sc.rule = 'region_prefix' and starts_with(s.region_code, sc.value)
    union all
    select sc.department_code, r.subject_id, sc.rule
    from scopes as sc
    cross join ctx
    join records as r
        on r.department_code = sc.department_code
       and (
            (sc.rule = 'license' and r.category = 'admin_license' and r.is_active)
         or (sc.rule = 'penalty' and r.category = 'admin_penalty' and not coalesce(r.is_withdrawn, false))
         or (sc.rule = 'inspection' and r.category = 'inspection')
         or (sc.rule = 'records')
       )
    where sc.lookback_months is null
       or r.decided_on > {{ add_months('ctx.as_of', '-sc.lookback_months') }}
),

in_scope as (
    select department_code, subject_id, string_agg(distinct rule, ';' order by rule) as scope_rules
    from matches
    group by department_code, subject_id
),

grades as (
    select g.subject_id, g.grade, g.score
    from {{ ref('credit_grades') }} as g
    cross join ctx
    where g.as_of = ctx.as_of
      and {{ delta_filter('g.subject_id') }}
),

frequency as (
    select sc.department_code, sc.subject_id, count(i.subject_id) as inspections_in_window
    from in_scope as sc
    cross join ctx
    left join records as i
        on i.category = 'inspection'
       and i.subject_id = sc.subject_id
       and i.decided_on >= ctx.window_start
       and i.decided_on < ctx.period_start
       and (ctx.frequency_counts = 'any' or i.department_code = sc.department_code)
    group by sc.department_code, sc.subject_id
),

joined as (
    select
        sc.department_code,
        ctx.period,
        ctx.as_of,
        ctx.seed,
        sc.subject_id,
        s.uscc,
        s.name,
        s.subject_kind,
        s.region_code,
        s.industry_code,
        s.status,
        g.grade,
        g.score,
        sc.scope_rules,
        f.inspections_in_window,
        r.max_inspections_per_window,
        coalesce(r.draws, false) as draws,
        (s.status is not null and {{ list_contains('ctx.pool_statuses', 's.status') }}) as status_ok,
        g.grade is not null as graded,
        (r.max_inspections_per_window is null
            or f.inspections_in_window < r.max_inspections_per_window) as frequency_ok
    from in_scope as sc
    cross join ctx
    join subjects as s on s.subject_id = sc.subject_id
    left join grades as g on g.subject_id = sc.subject_id
    left join frequency as f
        on f.department_code = sc.department_code and f.subject_id = sc.subject_id
    left join {{ ref('sampling_rules') }} as r
        on r.department_code = sc.department_code and r.grade = g.grade
)

select
    department_code,
    period,
    as_of,
    subject_id,
    uscc,
    name,
    subject_kind,
    region_code,
    industry_code,
    status,
    grade,
    score,
    scope_rules,
    inspections_in_window,
    max_inspections_per_window,
    draws,
    status_ok and graded as in_pool,
    status_ok and graded and frequency_ok as is_eligible,
    case
        when not status_ok then '登记状态' || coalesce(status, '空') || '，不在抽查范围'
        when not graded then '无信用等级'
        when not frequency_ok then '近' || cast(window_months as varchar) || '个月已检查'
             || cast(inspections_in_window as varchar) || '次，达到' || grade || '类频次上限'
    end as exclusion_reason,
    case when seed is not null
         then sha256(seed || '|' || period || '|' || department_code || '|' || subject_id)
    end as draw_key,
    seed
from joined
cross join (select window_months from ctx) as w
