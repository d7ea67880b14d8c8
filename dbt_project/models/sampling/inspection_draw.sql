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
    -- each numbered from 0 in badge order, with its size n.
    select
        g.department_code,
        g.region_code as subject_region,
        i.badge_no,
        i.record_id,
        coalesce(i.region_code = g.region_code, false) as same_region,
        row_number() over (
            partition by g.department_code, g.region_code, coalesce(i.region_code = g.region_code, false)
            order by i.badge_no
        ) - 1 as pos,
        count(*) over (
            partition by g.department_code, g.region_code, coalesce(i.region_code = g.region_code, false)
        ) as n
    from (select distinct department_code, region_code from drawn) as g
    join {{ ref('sampling_roster') }} as i on i.department_code = g.department_code
),

side_sizes as (
    select distinct department_code, subject_region, same_region, n from sides
),

slots as (
    -- From each side of n: position a mod n, then (a mod n + 1 + b mod (n − 1)) mod n,
    -- a different inspector. Two look-ups per subject, whatever the roster's size.
    select k.department_code, k.subject_id, k.region_code, s.same_region, 1 as slot, k.a % s.n as pos
    from keyed as k
    join side_sizes as s
        on s.department_code = k.department_code and s.subject_region is not distinct from k.region_code
    union all
    select k.department_code, k.subject_id, k.region_code, s.same_region, 2 as slot,
           (k.a % s.n + 1 + k.b % (s.n - 1)) % s.n as pos
    from keyed as k
    join side_sizes as s
        on s.department_code = k.department_code and s.subject_region is not distinct from k.region_code
    where s.n >= 2
),

picks as (
    -- The first two of (other-region picks, same-region picks): a same-region inspector
    -- only when fewer than two inspectors of other regions exist.
    select *
    from (
        select
            sl.department_code,
            sl.subject_id,
            sd.badge_no,
            sd.record_id,
            sd.same_region,
            row_number() over (
                partition by sl.department_code, sl.subject_id order by sl.same_region, sl.slot
            ) as pick
        from slots as sl
        join sides as sd
            on sd.department_code = sl.department_code
            and sd.subject_region is not distinct from sl.region_code
            and sd.same_region = sl.same_region
            and sd.pos = sl.pos
    ) as ranked_picks
    where pick <= 2
),

pairs as (
    select
        p1.department_code,
        p1.subject_id,
        p1.badge_no as inspector_1_badge_no,
        n1.name as inspector_1_name,
        p1.same_region as inspector_1_same_region,
        p2.badge_no as inspector_2_badge_no,
        n2.name as inspector_2_name,
        p2.same_region as inspector_2_same_region
    from picks as p1
    left join picks as p2
        on p2.department_code = p1.department_code and p2.subject_id = p1.subject_id and p2.pick = 2
    left join names as n1 on n1.record_id = p1.record_id
    left join names as n2 on n2.record_id = p2.record_id
    where p1.pick = 1
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
