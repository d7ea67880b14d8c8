-- marts.sampling_roster: each department's inspectors available for the period's draw
-- (执法检查人员名录库): the roster version current at the evaluation date, status 在岗
-- (an empty status counts as 在岗). No names here: only badge number, region and the
-- keyed name hash; the name is published in marts.inspection_draw only (spec: name +
-- badge number in the draw).
with ctx as (select * from {{ ref('sampling_context') }}),

roster as (
    {{ pit_versions('select * from ' ~ ref('stg_inspector'), partition_by='department_code, badge_no') }}
)

select
    r.department_code,
    ctx.period,
    ctx.as_of,
    r.badge_no,
    r.region_code,
    r.name_hash,
    r.record_id
from roster as r
cross join ctx
where r.badge_no is not null
  and coalesce(r.active, ctx.inspector_status) = ctx.inspector_status
