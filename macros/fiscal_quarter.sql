{#- The fiscal quarter (1-4) of an A-share report period, from its period-end month (03-31 -> 1,
    06-30 -> 2, 09-30 -> 3, 12-31 -> 4; null for any other date). One home for the rule that
    stg_finance_data and int_fundamentals__pit_events both need. -#}
{% macro fiscal_quarter(report_period) -%}
    case cast(extract(month from {{ report_period }}) as integer)
        when 3 then 1 when 6 then 2 when 9 then 3 when 12 then 4
    end
{%- endmacro %}
