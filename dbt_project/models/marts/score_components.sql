{{ config(
    materialized='incremental',
    incremental_strategy=('subject_delta' if delta_requested() else 'delete+insert'),
    unique_key='as_of',
    incremental_predicates=(['as_of = ' ~ as_of_date()] if delta_requested() else none),
    on_schema_change='append_new_columns'
) }}
{{ delta_depends_on() }}
-- marts.score_components: kept per evaluation; re-running an as_of replaces that
-- evaluation's rows (delete+insert on as_of, a plain string key: dbt-duckdb then deletes
-- with IN instead of joining every old row to every new one). sum(points) per subject = its score.
select
    subject_id,
    as_of,
    dimension,
    indicator,
    value,
    points,
    dimension_code,
    indicator_name,
    model_version
from {{ ref('int_score_components') }}
where {{ delta_filter('subject_id') }}
