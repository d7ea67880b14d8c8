{{ config(
    materialized='incremental',
    incremental_strategy=('subject_delta' if delta_requested() else 'delete+insert'),
    unique_key='as_of',
    incremental_predicates=(['as_of = ' ~ as_of_date()] if delta_requested() else none),
    on_schema_change='append_new_columns'
) }}
{{ delta_depends_on() }}
-- marts.credit_grades: one grade per subject per evaluation date; history is kept,
-- re-running the same as_of replaces that whole evaluation (delete+insert on as_of: a
-- plain string key deletes with IN, a list key would join every old row to every new one).
select
    subject_id,
    as_of,
    score,
    grade,
    grade_reason,
    model_version,
    score_grade,
    override_applied,
    cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }}) as evaluated_at
from {{ ref('int_subject_grades') }}
where {{ delta_filter('subject_id') }}
