{{ config(materialized='view', meta={'delta_scoped': true}) }}
-- marts.credit_records: every record as of the evaluation date, with its window and state.
-- A view of intermediate.int_record_states (the published columns of the same rows): a
-- second copy of every record would cost a full write of ~10M rows per build at province
-- scale, and a delta build keeps int_record_states current. (meta delta_scoped: in a delta
-- build its data tests read the changed subjects' rows, as for the delta models.)
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
