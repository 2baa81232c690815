{#-
  Cross-sectional percent_rank of `col` within `partition_by` (0 = lowest, 1 = highest),
  ignoring nulls; 0.5 (neutral) for a null value or when fewer than two values exist, so a
  group with one member is neither best nor worst.
-#}
{% macro cross_rank(col, partition_by) -%}
    case
        when {{ col }} is null or count({{ col }}) over (partition by {{ partition_by }}) < 2 then 0.5
        else percent_rank() over (
            partition by {{ partition_by }}, case when {{ col }} is null then 1 else 0 end
            order by {{ col }}
        )
    end
{%- endmacro %}
