{#- Record versions and their subject.
    codes.subject_refs has a row for the *current* version of each record only; every
    version of a record shares its record_key (which includes the subject name), so
    earlier versions take the subject of the current one. -#}
{% macro versions_with_subject(relation, delta=false, category=none) -%}
{#- The current version of a record is the one ingestion marked is_current; every other
    version of the same key points to it in superseded_by (pipelines/ingest/load.py
    _supersede keeps that invariant, checked by tests/ingest/test_equivalence.py): a lookup,
    not a window over every version of the record key.
    delta=true in a delta build (macros/delta.sql): only the versions of the changed
    subjects — an inner join with their references, plus the versions with no resolved
    subject when those changed.
    category: the one category of relation's records, when it has one. A reference is
    keyed by its record's category and record id, so the references of that category are
    all a record can match; codes.subject_refs is written category by category, and
    DuckDB then reads only that category's row groups instead of all 10M references
    (docs/performance.md). -#}
{%- set refs -%}
    {%- if category is none -%}
        {{ source('codes', 'subject_refs') }}
    {%- else -%}
        (select * from {{ source('codes', 'subject_refs') }} where category = '{{ category }}')
    {%- endif -%}
{%- endset -%}
{%- set versions -%}
    select s.*,
           case when s.is_current then s.record_id else s.superseded_by end as current_record_id
    from {{ relation }} as s
{%- endset -%}
{%- if delta and is_delta() %}
select v.*, r.subject_id
from ({{ versions }}) as v
inner join (
    select record_id, subject_id from {{ refs }} as cr
    where {{ delta_subject_in('subject_id') }}
) as r
    on r.record_id = v.current_record_id
{%- if delta_has_null_subject() %}
union all
select v.*, cast(null as {{ dbt.type_string() }}) as subject_id
from ({{ versions }}) as v
where not exists (
    select 1 from {{ refs }} as r
    where r.record_id = v.current_record_id and r.subject_id is not null
)
{%- endif %}
{%- else %}
select v.*, r.subject_id
from ({{ versions }}) as v
left join {{ refs }} as r
    on r.record_id = v.current_record_id
{%- endif %}
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


{#- pit_versions for a relation holding every version of its records with ingestion's
    is_current: on the evaluation date the current version is the point-in-time one unless
    a version of the same key was delivered after as_of. Only those keys (none when as_of
    is on or after the last batch) go through the window; the rest is a filter. Same rows
    as pit_versions (tests/dbt: test_pit_fast_path_equals_window). -#}
{% macro pit_versions_current(select_sql, key) -%}
select * from (
    with pv_all as ({{ select_sql }}),
    pv_late as (
        select distinct {{ key }} from pv_all where batch_date > {{ as_of_date() }}
    )
    select pv.*, cast(1 as {{ dbt.type_bigint() }}) as version_rank
    from pv_all as pv
    where pv.is_current and pv.batch_date <= {{ as_of_date() }}
      and not exists (select 1 from pv_late as l where l.{{ key }} = pv.{{ key }})
    union all
    select * from (
        select pv.*,
               row_number() over (
                   partition by pv.{{ key }}
                   order by pv.batch_date desc, pv.batch desc, pv.source_file desc, pv.source_row desc
               ) as version_rank
        from pv_all as pv
        where pv.batch_date <= {{ as_of_date() }}
          and exists (select 1 from pv_late as l where l.{{ key }} = pv.{{ key }})
    ) as ranked
    where version_rank = 1
) as pit
{%- endmacro %}
