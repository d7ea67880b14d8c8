-- marts.inspection_draw: the subjects drawn for inspection (双随机) — per department and
-- grade, the sample_size eligible candidates with the smallest draw keys — and two
-- inspectors each from the department's roster (在岗), drawn the same way with
-- sha256(seed|period|department_code|subject_id|badge_no), inspectors from another
-- region than the subject's first (回避). Recipe: docs/sampling.md. No seed → no draw.
with ctx as (select * from {{ ref('sampling_context') }}),

plan as (select * from {{ ref('sampling_plan') }}),

ranked as (
    select
        c.*,
        row_number() over (
            partition by c.department_code, c.grade order by c.draw_key, c.subject_id
        ) as draw_rank
    from {{ ref('sampling_candidates') }} as c
    where c.is_eligible and c.draws and c.draw_key is not null
),

drawn as (
    select r.*
    from ranked as r
    join plan as p on p.department_code = r.department_code and p.grade = r.grade
    where r.draw_rank <= p.sample_size
),

names as (
    -- The only downstream use of an inspector's name (raw.inspector.name, personal):
    -- the spec publishes inspectors as name + badge number in the draw.
    select record_id, name from {{ source('raw', 'inspector') }}
),

picks as (
    select
        d.department_code,
        d.subject_id,
        i.badge_no,
        n.name,
        coalesce(i.region_code = d.region_code, false) as same_region,
        row_number() over (
            partition by d.department_code, d.subject_id
            order by coalesce(i.region_code = d.region_code, false),
                     sha256(d.seed || '|' || d.period || '|' || d.department_code || '|' || d.subject_id || '|' || i.badge_no),
                     i.badge_no
        ) as pick
    from drawn as d
    join {{ ref('sampling_roster') }} as i on i.department_code = d.department_code
    left join names as n on n.record_id = i.record_id
),

pairs as (
    select
        department_code,
        subject_id,
        max(case when pick = 1 then badge_no end) as inspector_1_badge_no,
        max(case when pick = 1 then name end) as inspector_1_name,
        max(case when pick = 1 then same_region end) as inspector_1_same_region,
        max(case when pick = 2 then badge_no end) as inspector_2_badge_no,
        max(case when pick = 2 then name end) as inspector_2_name,
        max(case when pick = 2 then same_region end) as inspector_2_same_region
    from picks
    where pick <= 2
    group by department_code, subject_id
)

select
    d.department_code,
    d.period,
    d.subject_id,
    d.grade,
    d.draw_key,
    case when p.inspector_1_badge_no is not null
         then coalesce(p.inspector_1_name, '') || '（' || p.inspector_1_badge_no || '）' end as inspector_1,
    case when p.inspector_2_badge_no is not null
         then coalesce(p.inspector_2_name, '') || '（' || p.inspector_2_badge_no || '）' end as inspector_2,
    d.seed,
    d.draw_rank,
    d.uscc,
    d.name,
    d.region_code,
    p.inspector_1_badge_no,
    p.inspector_1_name,
    p.inspector_2_badge_no,
    p.inspector_2_name,
    not coalesce(p.inspector_1_same_region, false) and not coalesce(p.inspector_2_same_region, false)
        and p.inspector_2_badge_no is not null as avoidance_met,
    d.as_of
from drawn as d
left join pairs as p on p.department_code = d.department_code and p.subject_id = d.subject_id
