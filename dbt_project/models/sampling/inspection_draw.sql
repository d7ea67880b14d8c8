-- marts.inspection_draw: the subjects drawn for inspection (双随机) — per department and
-- grade, the sample_size eligible candidates with the smallest draw keys — and two
-- inspectors each from the department's roster (在岗), drawn from the subject's inspector
-- key sha256(seed|period|department_code|subject_id|inspectors), inspectors from another
-- region than the subject's first (回避). Recipe: docs/sampling.md (the same arithmetic as
-- pipelines/deliver/recipe.py). No seed → no draw.
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

keyed as (
    -- One inspector key per drawn subject: sha256(seed|period|department|subject|inspectors);
    -- a, b = its hex digits 1–15 and 16–30 as integers.
    select
        department_code,
        subject_id,
        region_code,
        {{ hex_to_bigint('inspector_key', 1, 15) }} as a,
        {{ hex_to_bigint('inspector_key', 16, 15) }} as b
    from (
        select
            department_code,
            subject_id,
            region_code,
            sha256(seed || '|' || period || '|' || department_code || '|' || subject_id || '|inspectors')
                as inspector_key
        from drawn
    ) as k
),

sides as (
    -- Per department and subject region: the roster split into the inspectors of another
    -- region (回避; an unknown region counts as another) and those of the same region,
    -- each numbered from 0 in badge order.
    select
        g.department_code,
        g.region_code as subject_region,
        i.badge_no,
        i.record_id,
        coalesce(i.region_code = g.region_code, false) as same_region,
        row_number() over (
            partition by g.department_code, g.region_code, coalesce(i.region_code = g.region_code, false)
            order by i.badge_no
        ) - 1 as pos
    from (select distinct department_code, region_code from drawn) as g
    join {{ ref('sampling_roster') }} as i on i.department_code = g.department_code
),

side_sizes as (
    -- Per department and subject region: the sizes of its two sides (0 when empty).
    select
        department_code,
        subject_region,
        count(*) filter (where not same_region) as n_other,
        count(*) filter (where same_region) as n_same
    from sides
    group by department_code, subject_region
),

slots as (
    -- From a side of n: position a mod n, then (a mod n + 1 + b mod (n − 1)) mod n, a
    -- different inspector. The two inspectors are the first two of (the other-region
    -- side's picks, the same-region side's picks): a same-region inspector only when
    -- fewer than two inspectors of other regions exist. Two look-ups per subject,
    -- whatever the roster's size.
    select
        k.department_code,
        k.subject_id,
        k.region_code,
        case when s.n_other >= 1 then false when s.n_same >= 1 then true end as same_1,
        case when s.n_other >= 1 then k.a % s.n_other
             when s.n_same >= 1 then k.a % s.n_same end as pos_1,
        case when s.n_other >= 2 then false
             when s.n_other = 1 and s.n_same >= 1 then true
             when s.n_other = 0 and s.n_same >= 2 then true end as same_2,
        case when s.n_other >= 2 then (k.a % s.n_other + 1 + k.b % (s.n_other - 1)) % s.n_other
             when s.n_other = 1 and s.n_same >= 1 then k.a % s.n_same
             when s.n_other = 0 and s.n_same >= 2 then (k.a % s.n_same + 1 + k.b % (s.n_same - 1)) % s.n_same
        end as pos_2
    from keyed as k
    inner join side_sizes as s
        on s.department_code = k.department_code and s.subject_region is not distinct from k.region_code
),

pairs as (
    select
        sl.department_code,
        sl.subject_id,
        p1.badge_no as inspector_1_badge_no,
        n1.name as inspector_1_name,
        p1.same_region as inspector_1_same_region,
        p2.badge_no as inspector_2_badge_no,
        n2.name as inspector_2_name,
        p2.same_region as inspector_2_same_region
    from slots as sl
    inner join sides as p1
        on p1.department_code = sl.department_code
        and p1.subject_region is not distinct from sl.region_code
        and p1.same_region = sl.same_1
        and p1.pos = sl.pos_1
    left join sides as p2
        on p2.department_code = sl.department_code
        and p2.subject_region is not distinct from sl.region_code
        and p2.same_region = sl.same_2
        and p2.pos = sl.pos_2
    left join names as n1 on n1.record_id = p1.record_id
    left join names as n2 on n2.record_id = p2.record_id
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
