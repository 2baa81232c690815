{#- least/greatest exist on DuckDB and PostgreSQL alike; a name makes score formulas readable. -#}
{% macro clamp(expr, lo=0, hi=1) -%}
    least(greatest({{ expr }}, {{ lo }}), {{ hi }})
{%- endmacro %}
