{#- A number as text with fixed decimals, for readable `reason` strings (same output on every engine).
    Cast through decimal(38, 10) first: a direct double -> decimal(18, 2) cast rounds the exact binary
    value on DuckDB (4.975 -> 4.97) but the 15-digit text value on PostgreSQL (4.975 -> 4.98); via ten
    decimals both round half away from zero on the same digits (checked for values below 1e8). -#}
{% macro fmt_num(expr, decimals=2) -%}
    coalesce(cast(cast(cast({{ expr }} as decimal(38, 10)) as decimal(18, {{ decimals }})) as {{ dbt.type_string() }}), 'n/a')
{%- endmacro %}
