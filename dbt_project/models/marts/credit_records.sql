{{ config(materialized=delta_materialization(), incremental_strategy='subject_delta',
          on_schema_change='append_new_columns') }}
{{ delta_depends_on() }}
-- marts.credit_records: every record as of the evaluation date, with its window and state.
select
    record_id,
    subject_id,
    category,
    department_code,
    record_key,
    decided_on,
    severity,
    publicity_until,
    is_public,
    is_repaired,
    under_objection,
    source_file,
    cast(source_row as {{ dbt.type_bigint() }}) as source_row,
    as_of,
    record_no,
    attribute,
    removed_on,
    repaired_on,
    is_withdrawn,
    is_active,
    is_scoring,
    record_state,
    batch_date
from {{ ref('int_record_states') }}
where {{ delta_filter('subject_id') }}
