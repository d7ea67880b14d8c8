{{ config(materialized=delta_materialization(), incremental_strategy='subject_delta',
          on_schema_change='append_new_columns') }}
{{ delta_depends_on() }}
-- The register as of the evaluation date: codes.subjects, with status, capital and
-- establishment date from the registration version delivered by as_of when there is one.
with registrations as (
    {{ pit_versions('select * from (' ~ versions_with_subject(ref('stg_registration'), delta=true, category='registration') ~ ') as vs where vs.subject_id is not null', partition_by='subject_id') }}
)

select
    {{ as_of_date() }} as as_of,
    s.subject_id,
    s.uscc,
    s.name,
    s.subject_kind,
    s.entity_type,
    s.region_code,
    s.industry_code,
    coalesce(r.status, s.status) as status,
    coalesce(r.established_on, s.established_on) as established_on,
    coalesce(r.registered_capital, s.registered_capital) as registered_capital,
    s.legal_rep,
    s.legal_rep_id_masked,
    s.in_register
from (select * from {{ source('codes', 'subjects') }} where {{ delta_filter('subject_id') }}) as s
left join registrations as r on r.subject_id = s.subject_id
