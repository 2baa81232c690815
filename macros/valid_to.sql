{#- The last day a dated reference row is valid: the day before the stock's next row starts, else
    open-ended (9999-12-31). One definition for every history table (name/ST, industry), so the
    periods they make never overlap and never leave a gap. -#}
{% macro valid_to(next_start) -%}
    coalesce(cast({{ dbt.dateadd('day', -1, next_start) }} as date), cast('9999-12-31' as date))
{%- endmacro %}
