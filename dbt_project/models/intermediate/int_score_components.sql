{{ config(materialized=delta_materialization(), incremental_strategy='subject_delta',
          on_schema_change='append_new_columns') }}
{{ delta_depends_on() }}
-- Every point of every score, as of the evaluation date (catalogs/scoring).
-- Per subject and dimension: one `_base` row (the dimension's base points), one row per
-- indicator with a value, and a `_bound` row when base + indicators fall outside
-- [0, share]. Hence score = sum(points), always.
with model as (
    select {{ model_version_expr() }} as model_version
),

subjects as (
    select s.subject_id
    from (select * from {{ ref('int_subjects_as_of') }} where {{ delta_filter('subject_id') }}) as s
    inner join {{ ref('score_subject_kinds') }} as k on k.subject_kind = s.subject_kind
    inner join model as m on m.model_version = k.model_version
),

dimensions as (
    select d.* from {{ ref('score_dimensions') }} as d
    inner join model as m on m.model_version = d.model_version
),

indicators as (
    select i.* from {{ ref('score_indicators') }} as i
    inner join model as m on m.model_version = i.model_version
),

record_counts as (
    select subject_id, category, attribute, count(*) as n
    from {{ ref('int_record_states') }}
    where is_scoring and subject_id is not null
      and {{ delta_filter('subject_id') }}
    group by subject_id, category, attribute
),

record_values as (
    select s.subject_id, i.indicator, cast(sum(c.n) as {{ credit_type('double') }}) as value
    from subjects as s
    inner join record_counts as c on c.subject_id = s.subject_id
    inner join indicators as i
        on i.basis = 'record_count'
        and i.category = c.category
        and (i.attribute = '*' or i.attribute = c.attribute)
    group by s.subject_id, i.indicator
),

measure_values as (
    select s.subject_id, i.indicator, m.value
    from subjects as s
    inner join (
        select * from {{ ref('int_subject_measures') }} where {{ delta_filter('subject_id') }}
    ) as m on m.subject_id = s.subject_id
    inner join indicators as i on i.basis = 'subject_measure' and i.attribute = m.measure
),

indicator_points as (
    select v.subject_id, i.dimension, v.indicator, v.value,
           case
               when v.value < i.min_value then 0
               when i.mode = 'per_unit' then v.value * i.points
               else i.points
           end as raw_points,
           i.cap
    from (select * from record_values union all select * from measure_values) as v
    inner join indicators as i on i.indicator = v.indicator
),

capped as (
    select subject_id, dimension, indicator, value,
           case
               when cap is null then raw_points
               when raw_points >= 0 then least(raw_points, cap)
               else greatest(raw_points, -cap)
           end as points
    from indicator_points
    where value <> 0 or raw_points <> 0
),

base as (
    select s.subject_id, d.dimension, '_base' as indicator,
           cast(d.base_points as {{ credit_type('double') }}) as value,
           cast(d.base_points as {{ credit_type('double') }}) as points
    from subjects as s
    cross join dimensions as d
),

unbounded as (
    select subject_id, dimension, indicator, value, points from base
    union all
    select subject_id, dimension, indicator, value, points from capped
),

dimension_totals as (
    select u.subject_id, u.dimension, sum(u.points) as total, max(d.share) as share
    from unbounded as u
    inner join dimensions as d on d.dimension = u.dimension
    group by u.subject_id, u.dimension
),

bound as (
    select subject_id, dimension, '_bound' as indicator, total as value,
           case when total > share then share - total else -total end as points
    from dimension_totals
    where total > share or total < 0
),

components as (
    select * from unbounded
    union all
    select * from bound
)

select
    {{ as_of_date() }} as as_of,
    c.subject_id,
    d.dimension_name as dimension,
    c.indicator,
    cast(c.value as {{ credit_type('double') }}) as value,
    cast(c.points as {{ credit_type('double') }}) as points,
    d.dimension as dimension_code,
    case c.indicator
        when '_base' then '维度基础分'
        when '_bound' then '维度上下限调整'
        else i.indicator_name
    end as indicator_name,
    d.sort_order as dimension_order,
    m.model_version
from components as c
inner join dimensions as d on d.dimension = c.dimension
left join indicators as i on i.indicator = c.indicator
cross join model as m
