{{ config(materialized=delta_materialization(), incremental_strategy='subject_delta',
          on_schema_change='append_new_columns') }}
{{ delta_depends_on() }}
-- Score per subject = the sum of its components.
select
    as_of,
    subject_id,
    cast(round(sum(points)) as integer) as score,
    max(model_version) as model_version
from {{ ref('int_score_components') }}
where {{ delta_filter('subject_id') }}
group by as_of, subject_id
