{#- An 8-byte float on every engine. dbt.type_float() is FLOAT, which DuckDB reads as a 4-byte REAL. -#}
{% macro type_double() -%}
    double precision
{%- endmacro %}
