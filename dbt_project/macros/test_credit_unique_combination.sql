{#- Generic test: the combination of `columns` is unique (no dbt_utils here). -#}
{% test credit_unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- Generic test: column values are within [min_value, max_value] (nulls pass). -#}
{% test credit_between(model, column_name, min_value=none, max_value=none) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and (
    {%- if min_value is not none %} {{ column_name }} < {{ min_value }}{% else %} false{% endif %}
    or
    {%- if max_value is not none %} {{ column_name }} > {{ max_value }}{% else %} false{% endif %}
  )
{% endtest %}

{#- Generic test: an expression holds on every row. -#}
{% test credit_expression_true(model, expression) %}
select * from {{ model }} where not ({{ expression }})
{% endtest %}
