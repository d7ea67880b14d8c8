{{ config(materialized=delta_materialization(), incremental_strategy='subject_delta',
          on_schema_change='append_new_columns') }}
{{ delta_depends_on() }}
-- Point in time: each record as it stood on the evaluation date — the version delivered
-- (batch_date) on or before as_of that was current then, and only if decided on or
-- before as_of.
select
    {{ as_of_date() }} as as_of,
    r.*
from ({{ pit_versions_current('select * from ' ~ delta_rows(ref('int_record_versions')), key='version_key') }}) as r
where r.decided_on <= {{ as_of_date() }}
