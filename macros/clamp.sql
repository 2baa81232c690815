{#- least/greatest exist on DuckDB and PostgreSQL alike; a name makes score formulas readable.
    Both engines' greatest/least skip nulls (greatest(null, 0) = 0), so a missing input would clamp
    to `lo`; the case keeps it null, so callers' coalesce(..., neutral) sees the missing value. -#}
{% macro clamp(expr, lo=0, hi=1) -%}
    case when ({{ expr }}) is not null then least(greatest({{ expr }}, {{ lo }}), {{ hi }}) end
{%- endmacro %}
