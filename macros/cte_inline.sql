{#-
  `with x as {{ cte_inline() }} (...)`: on PostgreSQL `not materialized`, so the planner folds the
  CTE into each query that reads it and can push a filter (a code, a date range) down to an index
  of the table under it. PostgreSQL materializes a CTE that is read more than once, and a lateral
  subquery over a materialized CTE scans all of it once per outer row. Nothing on other engines
  (DuckDB decides for itself and keeps its plan).
-#}
{% macro cte_inline() -%}
    {{ return(adapter.dispatch('cte_inline')()) }}
{%- endmacro %}

{% macro default__cte_inline() -%}
{%- endmacro %}

{% macro postgres__cte_inline() -%}
    not materialized
{%- endmacro %}
