{{ config(materialized=delta_materialization(), incremental_strategy='subject_delta',
          on_schema_change='append_new_columns') }}
{{ delta_depends_on() }}
-- The state of every record on the evaluation date: window, repair, objection.
-- * in window: as_of <= publicity_until (inclusive) and before removed_on, not void;
-- * repaired (credit_repair decided and delivered by as_of) -> leaves publication,
--   lists and scoring from the repair date;
-- * objection 处理中 at as_of -> under_objection (no list-based override, see
--   int_subject_signals); closed 撤销 -> withdrawn for good; 更正 / 信息无误 -> restored
--   (a 更正 comes back as a corrected delivery that supersedes the record).
-- Repairs and objections name a record by category + document number (+ subject);
-- categories without a document number (经营异常名录) match every listing of the
-- subject in that category decided on or before the repair / objection.
with records as (
    -- Point in time: each record as it stood on the evaluation date — the version delivered
    -- (batch_date) on or before as_of that was current then, and only if decided on or
    -- before as_of.
    select {{ as_of_date() }} as as_of, r.*
    from ({{ pit_versions_current('select * from ' ~ delta_rows(ref('int_record_versions')), key='version_key') }}) as r
    where r.decided_on <= {{ as_of_date() }}
),

repairs as (
    {{ pit_versions('select * from ' ~ ref('int_repairs') ~ ' where ' ~ delta_filter('subject_id')) }}
),

objections as (
    {{ pit_versions('select * from ' ~ ref('int_objections') ~ ' where ' ~ delta_filter('subject_id')) }}
),

repair_match as (
    select r.record_id, min(rp.repaired_on) as repaired_on
    from records as r
    inner join repairs as rp
        on rp.repaired_category = r.category
        and rp.subject_id = r.subject_id
        and (rp.repaired_record_no = r.record_no or r.record_no is null)
        and rp.repaired_on >= r.decided_on
    where rp.repaired_on <= {{ as_of_date() }}
    group by r.record_id
),

objection_state as (
    select
        o.*,
        (o.status = '处理中' or o.closed_on is null or o.closed_on > {{ as_of_date() }}) as is_in_progress,
        (o.status = '已办结' and o.outcome = '撤销' and o.closed_on <= {{ as_of_date() }}) as is_withdrawal
    from objections as o
    where o.raised_on <= {{ as_of_date() }}
),

objection_match as (
    select r.record_id,
           max(case when os.is_in_progress then 1 else 0 end) as n_in_progress,
           max(case when os.is_withdrawal then 1 else 0 end) as n_withdrawn,
           max(os.objection_no) as objection_no
    from records as r
    inner join objection_state as os
        on os.objected_category = r.category
        and os.subject_id = r.subject_id
        and (os.objected_record_no = r.record_no or r.record_no is null)
        and os.raised_on >= r.decided_on
    group by r.record_id
),

flags as (
    select
        r.*,
        rm.repaired_on,
        rm.repaired_on is not null as is_repaired,
        coalesce(om.n_withdrawn, 0) = 1 as is_withdrawn,
        coalesce(om.n_in_progress, 0) = 1 and coalesce(om.n_withdrawn, 0) = 0 as under_objection,
        (
            not r.is_void
            and (r.publicity_until is null or {{ as_of_date() }} <= r.publicity_until)
            and (r.removed_on is null or {{ as_of_date() }} < r.removed_on)
        ) as is_in_window
    from records as r
    left join repair_match as rm on rm.record_id = r.record_id
    left join objection_match as om on om.record_id = r.record_id
),

active as (
    select f.*,
           (f.is_in_window and not f.is_repaired and not f.is_withdrawn) as is_active
    from flags as f
),

ranked as (
    select a.*,
           row_number() over (
               partition by a.subject_id, a.category, a.is_active
               order by a.decided_on desc, a.record_id
           ) as latest_rank
    from active as a
)

select
    rk.*,
    rk.is_active and (not rk.latest_only or rk.latest_rank = 1) as is_scoring,
    rk.is_active and rk.is_publishable as is_public,
    case
        when rk.is_withdrawn then '异议撤销'
        when rk.is_repaired then '已修复'
        when rk.is_void then '已失效'
        when rk.removed_on is not null and {{ as_of_date() }} >= rk.removed_on then '已移出'
        when not rk.is_in_window then '已过公示期'
        when rk.under_objection then '异议处理中'
        else '有效'
    end as record_state
from ranked as rk
