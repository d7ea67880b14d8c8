{{ config(materialized=delta_materialization(), incremental_strategy='subject_delta',
          on_schema_change='append_new_columns') }}
{{ delta_depends_on() }}
-- Every delivered version of every credit record, in one shape, with its subject and
-- its own window (not yet as of a date). The per-category mapping of "decided on",
-- "document number", "ends" and the scoring attribute lives here and only here.
-- last_public_day: inclusive end of publicity (NULL = open-ended);
-- removed_on: the record stops counting on that day (listings).
{%- set common = "record_id, record_key, department_code, subject_kind, is_current, superseded_by, batch_date, batch, source_file, source_row" %}
with unioned as (
    select {{ common }}, 'admin_license' as category,
           decision_no as record_no, decided_on,
           cast(null as date) as removed_on, valid_to as last_public_day,
           cast(null as {{ dbt.type_string() }}) as severity,
           license_kind as attribute,
           (state = '无效') as is_void, true as is_publishable
    from {{ ref('stg_admin_license') }}

    union all
    select {{ common }}, 'admin_penalty',
           decision_no, decided_on,
           cast(null as date), window_publicity_until,
           window_severity, window_severity,
           false, window_is_publishable
    from (
        select p.*, ip.publicity_until as window_publicity_until,
               ip.severity as window_severity, ip.is_publishable as window_is_publishable
        from {{ ref('stg_admin_penalty') }} as p
        inner join {{ ref('int_penalties') }} as ip on ip.record_id = p.record_id
    ) as penalties

    union all
    select {{ common }}, 'dishonest_debtor',
           case_no, published_on,
           removed_on, cast(null as date),
           cast(null as {{ dbt.type_string() }}), performance,
           false, true
    from {{ ref('stg_dishonest_debtor') }}

    union all
    select {{ common }}, 'serious_dishonesty_list',
           decision_no, listed_on,
           removed_on, valid_until,
           cast(null as {{ dbt.type_string() }}), list_name,
           false, true
    from {{ ref('stg_serious_dishonesty_list') }}

    union all
    select {{ common }}, 'abnormal_operation',
           cast(null as {{ dbt.type_string() }}), listed_on,
           removed_on, cast(null as date),
           cast(null as {{ dbt.type_string() }}), reason,
           false, true
    from {{ ref('stg_abnormal_operation') }}

    union all
    select {{ common }}, 'credit_commitment',
           cast(null as {{ dbt.type_string() }}), committed_on,
           cast(null as date), cast(null as date),
           cast(null as {{ dbt.type_string() }}), fulfilment,
           false, true
    from {{ ref('stg_credit_commitment') }}

    union all
    select {{ common }}, 'honor',
           cast(null as {{ dbt.type_string() }}), granted_on,
           cast(null as date), valid_until,
           cast(null as {{ dbt.type_string() }}), level,
           false, true
    from {{ ref('stg_honor') }}

    union all
    select {{ common }}, 'inspection',
           inspection_no, inspected_on,
           cast(null as date), cast(null as date),
           cast(null as {{ dbt.type_string() }}), result,
           false, true
    from {{ ref('stg_inspection') }}

    union all
    select {{ common }}, 'tax_credit_rating',
           cast(year as {{ dbt.type_string() }}), {{ year_end_date('year') }},
           cast(null as date), cast(null as date),
           cast(null as {{ dbt.type_string() }}), rating,
           false, true
    from {{ ref('stg_tax_credit_rating') }}
),

windowed as (
    select u.*,
           coalesce(
               u.last_public_day,
               case when cw.period_months is not null
                    then {{ window_last_day('u.decided_on', 'cw.period_months') }} end
           ) as publicity_until,
           coalesce(cw.latest_only, false) as latest_only
    from unioned as u
    left join {{ ref('category_windows') }} as cw on cw.category = u.category
),

keyed as (
    -- record_key is unique within a category only
    select w.*, {{ dbt.concat(['w.category', "'|'", 'w.record_key']) }} as version_key
    from windowed as w
)

{{ versions_with_subject('keyed', delta=true) }}
