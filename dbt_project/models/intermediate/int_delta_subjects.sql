{{ config(materialized='table') }}
-- The subjects a delta build recomputes (macros/delta.sql): every subject code governance
-- logged as changed (codes.subject_changes) after the generation the last successful build
-- consumed (macro since_generation). Empty in a full build. A NULL subject_id means records
-- whose subject could not be resolved changed.
select distinct subject_id
from {{ source('codes', 'subject_changes') }}
{%- if delta_requested() %}
where generation > {{ since_generation() }}
{%- else %}
where false
{%- endif %}
