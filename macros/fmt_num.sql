{#- A number as text with fixed decimals, for readable `reason` strings (same output on every engine). -#}
{% macro fmt_num(expr, decimals=2) -%}
    coalesce(cast(cast({{ expr }} as decimal(18, {{ decimals }})) as {{ dbt.type_string() }}), 'n/a')
{%- endmacro %}
