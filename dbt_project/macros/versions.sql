{#- Record versions and their subject.
    codes.subject_refs has a row for the *current* version of each record only; every
    version of a record shares its record_key (which includes the subject name), so
    earlier versions take the subject of the current one. -#}
{% macro versions_with_subject(relation, key="record_key") -%}
select v.*, r.subject_id
from (
    select s.*,
           max(case when s.is_current then s.record_id end)
               over (partition by s.{{ key }}) as current_record_id
    from {{ relation }} as s
) as v
left join {{ source('codes', 'subject_refs') }} as r
    on r.record_id = v.current_record_id
{%- endmacro %}

{#- Point in time: the version of each record that was current on the evaluation date,
    i.e. the greatest (batch_date, batch, source_file, source_row) delivered by then
    (architecture.md: the rule that marks is_current). Wraps a select. -#}
{% macro pit_versions(select_sql, partition_by='record_key') -%}
select * from (
    select pv.*,
           row_number() over (
               partition by {{ partition_by }}
               order by pv.batch_date desc, pv.batch desc, pv.source_file desc, pv.source_row desc
           ) as version_rank
    from ({{ select_sql }}) as pv
    where pv.batch_date <= {{ as_of_date() }}
) as ranked
where version_rank = 1
{%- endmacro %}
