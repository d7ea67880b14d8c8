-- Penalty severity and publicity window (catalogs/publicity). Not as_of dependent.
-- Severity: the delivered value, else derived: a serious kind or fine >= serious_fine_min
-- -> 严重; only minor kinds (警告/通报批评) and/or a fine < minor_fine_below -> 轻微;
-- else 一般. Window: the delivered 公示截止期, else decided_on + the longer of the
-- severity period and the domain minimum (several kinds: the most severe = the longest).
with penalties as (
    select record_id, decided_on, penalty_kinds, fine, severity as severity_delivered,
           domain, publicity_until as publicity_until_delivered
    from {{ ref('stg_admin_penalty') }}
),

params as (
    select
        max(case when parameter = 'serious_fine_min' then value end) as serious_fine_min,
        max(case when parameter = 'minor_fine_below' then value end) as minor_fine_below,
        max(case when parameter = 'publish_minor_only_kinds' then value end) as publish_minor_only_kinds
    from {{ ref('publicity_parameters') }}
),

kind_counts as (
    select p.record_id,
           sum(case when k.kind_class = 'serious' then 1 else 0 end) as n_serious,
           sum(case when k.kind_class = 'minor' then 1 else 0 end) as n_minor,
           sum(case when k.kind_class = 'fine' then 1 else 0 end) as n_fine
    from penalties as p
    inner join {{ ref('penalty_kind_classes') }} as k
        on {{ list_contains('p.penalty_kinds', 'k.penalty_kind') }}
    group by p.record_id
),

classified as (
    select p.*,
           {{ list_length('p.penalty_kinds') }} as n_kinds,
           coalesce(kc.n_serious, 0) as n_serious,
           coalesce(kc.n_minor, 0) as n_minor,
           coalesce(kc.n_fine, 0) as n_fine,
           pr.serious_fine_min, pr.minor_fine_below, pr.publish_minor_only_kinds
    from penalties as p
    left join kind_counts as kc on kc.record_id = p.record_id
    cross join params as pr
),

derived as (
    select c.*,
           case
               when c.n_serious > 0 or c.fine >= c.serious_fine_min then '严重'
               when c.n_kinds > 0
                    and c.n_kinds = c.n_minor + c.n_fine
                    and (c.n_fine = 0 or c.fine < c.minor_fine_below) then '轻微'
               else '一般'
           end as severity_derived,
           (c.n_kinds > 0 and c.n_kinds = c.n_minor) as is_minor_kinds_only
    from classified as c
),

windows as (
    select d.*,
           coalesce(d.severity_delivered, d.severity_derived) as severity,
           case when d.severity_delivered is null then 'derived' else 'delivered' end as severity_source
    from derived as d
)

select
    w.record_id,
    w.severity,
    w.severity_source,
    w.severity_derived,
    pp.period_months as severity_months,
    dm.min_months as domain_min_months,
    case when dm.min_months is not null and dm.min_months > pp.period_months
         then dm.min_months else pp.period_months end as publicity_months,
    coalesce(
        w.publicity_until_delivered,
        {{ window_last_day('w.decided_on',
            'case when dm.min_months is not null and dm.min_months > pp.period_months then dm.min_months else pp.period_months end') }}
    ) as publicity_until,
    case when w.publicity_until_delivered is null then 'derived' else 'delivered' end as publicity_until_source,
    not (w.severity = '轻微' and w.is_minor_kinds_only and w.publish_minor_only_kinds = 0) as is_publishable
from windows as w
left join {{ ref('publicity_periods') }} as pp on pp.severity = w.severity
left join {{ ref('publicity_domain_minimums') }} as dm on dm.domain = w.domain
