{{ config(materialized='ephemeral') }}
-- One row: the evaluation date, the period it falls in, its published seed and the
-- sampling parameters (catalogs/sampling/sampling_parameters.csv, sampling_seeds.csv).
with params as (
    select
        max(case when parameter = 'period_granularity' then value end) as granularity,
        cast(max(case when parameter = 'frequency_window_months' then value end) as integer) as window_months,
        max(case when parameter = 'frequency_counts' then value end) as frequency_counts,
        max(case when parameter = 'pool_statuses' then value end) as pool_statuses,
        max(case when parameter = 'inspector_status' then value end) as inspector_status
    from {{ ref('sampling_parameters') }}
),

ctx as (
    select
        {{ as_of_date() }} as as_of,
        p.*,
        case when p.granularity = 'month'
             then strftime({{ as_of_date() }}, '%Y-%m')
             else cast(year({{ as_of_date() }}) as varchar) || '-Q' || cast(quarter({{ as_of_date() }}) as varchar)
        end as period,
        cast(case when p.granularity = 'month'
             then {{ dbt.date_trunc('month', as_of_date()) }}
             else {{ dbt.date_trunc('quarter', as_of_date()) }}
        end as date) as period_start
    from params as p
)

select
    ctx.*,
    {{ add_months('ctx.period_start', '-ctx.window_months') }} as window_start,
    s.seed
from ctx
left join {{ ref('sampling_seeds') }} as s on s.period = ctx.period
