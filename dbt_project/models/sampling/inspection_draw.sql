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
    -- Per drawn subject, the two roster inspectors first in the order
    -- (same region as the subject?, sha256(seed|period|department|subject|badge), badge):
    -- one fixed-width composite key, kept to the two smallest by a streaming top-n
    -- aggregate instead of ranking every (subject, inspector) pair with a window.
    select
        d.department_code,
        d.subject_id,
        {{ smallest_n_by(
            "struct_pack(badge_no := i.badge_no, record_id := i.record_id,
                         same_region := coalesce(i.region_code = d.region_code, false))",
            "(case when coalesce(i.region_code = d.region_code, false) then '1' else '0' end)
             || sha256(d.seed || '|' || d.period || '|' || d.department_code || '|' || d.subject_id || '|' || i.badge_no)
             || '|' || i.badge_no",
            2) }} as top2
    from drawn as d
    join {{ ref('sampling_roster') }} as i on i.department_code = d.department_code
    group by d.department_code, d.subject_id
),

pairs as (
    select
        p.department_code,
        p.subject_id,
        p.top2[1].badge_no as inspector_1_badge_no,
        n1.name as inspector_1_name,
        p.top2[1].same_region as inspector_1_same_region,
        p.top2[2].badge_no as inspector_2_badge_no,
        n2.name as inspector_2_name,
        p.top2[2].same_region as inspector_2_same_region
    from picks as p
    left join names as n1 on n1.record_id = p.top2[1].record_id
    left join names as n2 on n2.record_id = p.top2[2].record_id
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
