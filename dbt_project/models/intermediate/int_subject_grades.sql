{{ config(materialized=delta_materialization(), incremental_strategy='subject_delta',
          on_schema_change='append_new_columns') }}
{{ delta_depends_on() }}
-- Grade per subject: the threshold grade of the score, made worse by every applicable
-- override (each caps the grade). The reason is the override with the best precedence
-- among those that set the final grade, else the threshold reached.
with model as (
    select {{ model_version_expr() }} as model_version
),

thresholds as (
    select t.* from {{ ref('grade_thresholds') }} as t
    inner join model as m on m.model_version = t.model_version
),

overrides as (
    select o.*, t.rank as grade_rank
    from {{ ref('grade_overrides') }} as o
    inner join model as m on m.model_version = o.model_version
    inner join thresholds as t on t.grade = o.grade
),

scored as (
    select s.subject_id, s.as_of, s.score,
           max(t.min_score) as reached_min_score
    from (select * from {{ ref('int_subject_scores') }} where {{ delta_filter('subject_id') }}) as s
    inner join thresholds as t on s.score >= t.min_score
    group by s.subject_id, s.as_of, s.score
),

score_grade as (
    select sc.subject_id, sc.as_of, sc.score, t.grade as score_grade, t.rank as score_rank,
           t.reason as threshold_reason
    from scored as sc
    inner join thresholds as t on t.min_score = sc.reached_min_score
),

applicable as (
    select distinct sg.subject_id, o.override, o.precedence, o.grade_rank, o.reason
    from (select * from {{ ref('int_subject_signals') }} where {{ delta_filter('subject_id') }}) as sg
    inner join overrides as o
        on o.trigger = sg.trigger_kind and o.trigger_value = sg.trigger_value
),

worst as (
    select subject_id, max(grade_rank) as override_rank
    from applicable
    group by subject_id
),

final_rank as (
    select g.*,
           case when w.override_rank is not null and w.override_rank > g.score_rank
                then w.override_rank else g.score_rank end as final_rank
    from score_grade as g
    left join worst as w on w.subject_id = g.subject_id
),

reasons as (
    select f.subject_id, min(a.precedence) as precedence
    from final_rank as f
    inner join applicable as a on a.subject_id = f.subject_id and a.grade_rank = f.final_rank
    group by f.subject_id
)

select
    f.subject_id,
    f.as_of,
    f.score,
    t.grade,
    coalesce(a.reason, f.threshold_reason) as grade_reason,
    m.model_version,
    f.score_grade,
    a.override as override_applied
from final_rank as f
inner join thresholds as t on t.rank = f.final_rank
cross join model as m
left join reasons as r on r.subject_id = f.subject_id
left join applicable as a on a.subject_id = r.subject_id and a.precedence = r.precedence
