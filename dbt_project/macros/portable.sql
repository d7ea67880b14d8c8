{#- Small portable helpers. Anything engine-specific is dispatched (duckdb__ / default__)
    so the models run unchanged on Spark / Trino once their variants are added. -#}

{#- Generic column type names used in the generated sources YAML -> adapter type. -#}
{% macro credit_type(generic) -%}
    {%- set g = generic | lower -%}
    {%- if g == 'string' -%}{{ dbt.type_string() }}
    {%- elif g in ('float', 'double') -%}double
    {%- elif g == 'bigint' -%}{{ dbt.type_bigint() }}
    {%- elif g == 'boolean' -%}{{ dbt.type_boolean() }}
    {%- elif g == 'timestamp' -%}{{ dbt.type_timestamp() }}
    {%- else -%}{{ g }}
    {%- endif -%}
{%- endmacro %}

{#- date + n months (n may be a column), as a DATE. -#}
{% macro add_months(date_expr, months_expr) -%}
    cast({{ dbt.dateadd('month', months_expr, date_expr) }} as date)
{%- endmacro %}

{% macro add_days(date_expr, days_expr) -%}
    cast({{ dbt.dateadd('day', days_expr, date_expr) }} as date)
{%- endmacro %}

{#- Last public day of a window of n months starting on date_expr (inclusive end). -#}
{% macro window_last_day(date_expr, months_expr) -%}
    {{ add_days(add_months(date_expr, months_expr), -1) }}
{%- endmacro %}

{#- Whole years between two dates (age). -#}
{% macro whole_years_between(start_date, end_date) -%}
    floor({{ dbt.datediff(start_date, end_date, 'day') }} / 365.25)
{%- endmacro %}

{#- A date from a year number: 31 December of that year. -#}
{% macro year_end_date(year_expr) -%}
    {{ return(adapter.dispatch('year_end_date', 'credit_warehouse')(year_expr)) }}
{%- endmacro %}
{% macro default__year_end_date(year_expr) -%}
    cast({{ dbt.concat([dbt.cast(year_expr, dbt.type_string()), "'-12-31'"]) }} as date)
{%- endmacro %}
{% macro duckdb__year_end_date(year_expr) -%}
    make_date(cast({{ year_expr }} as integer), 12, 31)
{%- endmacro %}

{#- Does a ';'-joined enum list contain a value? (enum_list columns, architecture.md) -#}
{% macro list_contains(list_expr, value_expr) -%}
    ({{ dbt.position(dbt.concat(["';'", value_expr, "';'"]), dbt.concat(["';'", list_expr, "';'"])) }} > 0)
{%- endmacro %}

{#- Number of values in a ';'-joined enum list (0 when empty). -#}
{% macro list_length(list_expr) -%}
    (case when {{ list_expr }} is null or {{ dbt.length(list_expr) }} = 0 then 0
          else {{ dbt.length(list_expr) }} - {{ dbt.length(dbt.replace(list_expr, "';'", "''")) }} + 1 end)
{%- endmacro %}

{#- The integer value of n hex digits of a string from position start (1-based); n ≤ 15
    keeps it within a signed 64-bit integer. -#}
{% macro hex_to_bigint(expr, start, n) -%}
    {{ return(adapter.dispatch('hex_to_bigint', 'credit_warehouse')(expr, start, n)) }}
{%- endmacro %}
{% macro default__hex_to_bigint(expr, start, n) -%}
    cast(conv(substr({{ expr }}, {{ start }}, {{ n }}), 16, 10) as bigint)
{%- endmacro %}
{% macro duckdb__hex_to_bigint(expr, start, n) -%}
    cast('0x' || substr({{ expr }}, {{ start }}, {{ n }}) as bigint)
{%- endmacro %}
