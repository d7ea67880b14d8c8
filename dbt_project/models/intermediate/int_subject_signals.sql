{{ config(materialized=delta_materialization(), incremental_strategy='subject_delta',
          on_schema_change='append_new_columns') }}
{{ delta_depends_on() }}
-- Facts that can trigger a grade override (catalogs/scoring/grade_overrides.csv):
-- active listings not under objection (信息核实期间暂不执行联合惩戒措施), and the
-- registration status.
select
    subject_id,
    'active_listing' as trigger_kind,
    category as trigger_value,
    record_id
from {{ ref('int_record_states') }}
where is_active and not under_objection and subject_id is not null
  and {{ delta_filter('subject_id') }}

union all
select
    subject_id,
    'registration_status',
    status,
    cast(null as {{ dbt.type_string() }})
from {{ ref('int_subjects_as_of') }}
where status is not null
  and {{ delta_filter('subject_id') }}
