{{ config(materialized='ephemeral') }}
-- Ratio, minimum and frequency limit per department and grade: the department's own row
-- for a grade when there is one, else the default row (department_code '*').
select
    d.department_code,
    d.draws,
    r.grade,
    r.ratio,
    r.minimum_per_stratum,
    r.max_inspections_per_window
from {{ ref('sampling_departments') }} as d
join {{ ref('sampling_ratios') }} as r
    on r.department_code = d.department_code or r.department_code = '*'
qualify row_number() over (
    partition by d.department_code, r.grade
    order by case when r.department_code = '*' then 1 else 0 end
) = 1
