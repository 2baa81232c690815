{#- Models land in the schema their folder names (staging, factors, signals), not
    "<target>_<schema>", so QMT, the app and the outside find them by plain name. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
