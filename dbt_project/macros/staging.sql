{#- One staging model per catalogue category, driven by the generated sources YAML
    (models/staging/_sources.yml): every column renamed/cast to its generic type,
    personal full values (meta.personal) left out — only their _hash / _masked follow.
    Array/JSON lineage columns (flags, extra) stay in raw. -#}
{% macro stage_category(table_name, current_only=false) -%}
    {%- set relation = source('raw', table_name) -%}
    {%- set cols = [] -%}
    {%- if execute -%}
        {%- for node in graph.sources.values() -%}
            {%- if node.source_name == 'raw' and node.name == table_name -%}
                {%- for c in node.columns.values() -%}
                    {%- set meta = c.meta or {} -%}
                    {%- if not meta.get('personal') and meta.get('type') not in ('array', 'json') -%}
                        {%- do cols.append((c.name, meta.get('type', 'string'))) -%}
                    {%- endif -%}
                {%- endfor -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif %}
select
{%- for name, typ in cols %}
    cast({{ adapter.quote(name) }} as {{ credit_type(typ) }}) as {{ adapter.quote(name) }}{{ "," if not loop.last }}
{%- endfor %}
{%- if not cols %}
    *
{%- endif %}
from {{ relation }}
{%- if current_only %}
where is_current
{%- endif %}
{%- endmacro %}
