-- marts.sampling_plan: per drawing department, period and grade (all four grades, even
-- when empty): population (in-scope subjects in a candidate status with that grade),
-- eligible (not excluded by the frequency limit), the configured ratio and
--   sample_size = min(eligible, max(ceil(ratio * population), minimum if population > 0))
-- in exact decimal arithmetic (ratio is a DECIMAL seed column).
with ctx as (select * from {{ ref('sampling_context') }}),

counts as (
    select
        department_code,
        grade,
        count(*) filter (where in_pool) as population,
        count(*) filter (where is_eligible) as eligible
    from {{ ref('sampling_candidates') }}
    group by department_code, grade
),

strata as (
    select
        r.department_code,
        ctx.period,
        r.grade,
        cast(coalesce(c.population, 0) as bigint) as population,
        cast(coalesce(c.eligible, 0) as bigint) as eligible,
        r.ratio,
        r.minimum_per_stratum,
        r.max_inspections_per_window,
        ctx.as_of,
        ctx.seed
    from {{ ref('sampling_rules') }} as r
    cross join ctx
    left join counts as c on c.department_code = r.department_code and c.grade = r.grade
    where r.draws
)

select
    department_code,
    period,
    grade,
    population,
    ratio,
    cast(least(
        eligible,
        greatest(
            cast(ceil(ratio * population) as bigint),
            case when population > 0 then cast(minimum_per_stratum as bigint) else 0 end
        )
    ) as bigint) as sample_size,
    eligible,
    population - eligible as excluded_by_frequency,
    minimum_per_stratum,
    max_inspections_per_window,
    as_of,
    seed
from strata
