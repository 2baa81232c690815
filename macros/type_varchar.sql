{#- Unsized text, spelled `varchar` as the public models' contracts declare it (DuckDB, PostgreSQL);
    Spark has no unsized varchar, its text type is `string`. -#}
{% macro type_varchar() -%}
    {{ return(adapter.dispatch('type_varchar')()) }}
{%- endmacro %}

{% macro default__type_varchar() -%}
    {{ return('varchar') }}
{%- endmacro %}

{% macro spark__type_varchar() -%}
    {{ return('string') }}
{%- endmacro %}
