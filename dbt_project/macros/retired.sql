{#- Drop the relations listed in var('retired_relations') (schema.name, as in
    dbt_project.yml), tables or views, wherever they still exist: an upgraded warehouse
    loses the models the project no longer builds. Nothing to drop: nothing runs. -#}
{% macro drop_retired_relations() -%}
    {%- if execute -%}
        {%- for name in var('retired_relations', []) -%}
            {%- set parts = name.split('.') -%}
            {%- set relation = adapter.get_relation(database=target.database,
                                                     schema=parts[0],
                                                     identifier=parts[1]) -%}
            {%- if relation is not none -%}
                {% do log('dropping retired relation ' ~ relation, info=true) %}
                {% do adapter.drop_relation(relation) %}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
