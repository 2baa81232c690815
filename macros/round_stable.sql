{#-
  Round a double to `digits` decimals. Used on sums of a parallel GROUP BY, whose last bits
  depend on thread scheduling: rounded, the value (and every rank built on it) is the same on
  every run. PostgreSQL rounds only numerics, hence the casts there.
-#}
{% macro round_stable(expr, digits=12) %}
    {{ return(adapter.dispatch('round_stable')(expr, digits)) }}
{% endmacro %}

{% macro duckdb__round_stable(expr, digits) -%}
    round({{ expr }}, {{ digits }})
{%- endmacro %}

{% macro default__round_stable(expr, digits) -%}
    cast(round(cast({{ expr }} as numeric), {{ digits }}) as double precision)
{%- endmacro %}
