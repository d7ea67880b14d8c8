{#- The evaluation date. `--vars '{as_of: YYYY-MM-DD}'`; empty/absent = today (the
    pipeline always passes it explicitly, so runs are reproducible). -#}
{% macro as_of_str() -%}
    {%- set v = var('as_of', '') -%}
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
