{{ config(materialized=delta_materialization(), incremental_strategy='subject_delta',
          on_schema_change='append_new_columns') }}
{{ delta_depends_on() }}
-- Subject-level measures the scoring model can use (basis = subject_measure), long format.
with s as (
    select * from {{ ref('int_subjects_as_of') }}
    where {{ delta_filter('subject_id') }}
)

select subject_id, 'age_years' as measure,
       cast({{ whole_years_between('established_on', 'as_of') }} as {{ credit_type('double') }}) as value
from s
where established_on is not null and established_on <= as_of

union all
select subject_id, 'registered_capital', cast(registered_capital as {{ credit_type('double') }})
from s
where registered_capital is not null

union all
select s.subject_id, 'not_operating',
       cast(case when rs.is_operating then 0 else 1 end as {{ credit_type('double') }})
from s
inner join {{ ref('registration_statuses') }} as rs on rs.status = s.status
