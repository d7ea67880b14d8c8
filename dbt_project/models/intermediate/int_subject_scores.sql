-- Score per subject = the sum of its components.
select
    as_of,
    subject_id,
    cast(round(sum(points)) as integer) as score,
    max(model_version) as model_version
from {{ ref('int_score_components') }}
group by as_of, subject_id
