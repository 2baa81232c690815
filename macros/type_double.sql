{#- An 8-byte float on every engine. dbt.type_float() is FLOAT, which DuckDB reads as a 4-byte REAL;
    Spark has no `double precision` spelling, only `double`. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    {{ return('double precision') }}
{%- endmacro %}

{% macro spark__type_double() -%}
    {{ return('double') }}
{%- endmacro %}
