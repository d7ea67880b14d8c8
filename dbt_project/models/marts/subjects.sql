{{ config(materialized=delta_materialization(), incremental_strategy='subject_delta',
          on_schema_change='append_new_columns') }}
{{ delta_depends_on() }}
-- marts.subjects: the register as of the evaluation date (published interface).
-- Natural persons carry a pseudonymous subject_id and a masked ID only.
select
    subject_id,
    uscc,
    name,
    subject_kind,
    entity_type,
    region_code,
    industry_code,
    status,
    established_on,
    cast(registered_capital as {{ credit_type('double') }}) as registered_capital,
    legal_rep,
    legal_rep_id_masked,
    in_register,
    as_of
from {{ ref('int_subjects_as_of') }}
where {{ delta_filter('subject_id') }}
