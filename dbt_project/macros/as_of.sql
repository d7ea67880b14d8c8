{#- The evaluation date: `--vars '{as_of: YYYY-MM-DD}'`, else the environment variable
    CREDIT_DBT_AS_OF (how the pipeline passes it: a changed var would make dbt parse the
    whole project again, a changed environment variable only the files using it), else
    today. The pipeline always passes it, so runs are reproducible. -#}
{% macro as_of_str() -%}
    {%- set v = var('as_of', '') -%}
    {%- if v is none or (v | string | trim) == '' -%}
        {%- set v = env_var('CREDIT_DBT_AS_OF', '') -%}
    {%- endif -%}
    {%- if v is none or (v | string | trim) == '' -%}
        {{ modules.datetime.date.today().isoformat() }}
    {%- else -%}
        {{ v | string | trim }}
    {%- endif -%}
{%- endmacro %}

{% macro as_of_date() -%}
    cast('{{ as_of_str() }}' as date)
{%- endmacro %}

{#- The scoring model version: var model_version, else the row of score_models marked
    is_current. Returns a scalar SQL expression. -#}
{% macro model_version_expr() -%}
    {%- set v = var('model_version', '') -%}
    {%- if v is none or (v | string | trim) == '' -%}
        (select max(model_version) from {{ ref('score_models') }} where is_current)
    {%- else -%}
        '{{ v | string | trim }}'
    {%- endif -%}
{%- endmacro %}
