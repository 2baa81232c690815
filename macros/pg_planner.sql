{#-
  A pre-hook for models whose PostgreSQL plan joins CTEs on (code, bar_seq)-like keys: PostgreSQL
  estimates such a join of two CTEs at a few dozen rows (it multiplies the selectivities of
  correlated keys), picks a nested loop over CTE scans, and at 60 stocks x 2 years
  int_macd__recursed then ran for more than 8 minutes instead of 5 s (bench.pg_full, 2026-12-01).
  `set local` lasts until the model's transaction commits, so no other model is affected; the
  planner still takes a nested loop where no other join method exists. Nothing on other engines.
-#}
{% macro pg_no_nested_loops() -%}
    {%- if target.type == 'postgres' -%}
    set local enable_nestloop = off
    {%- endif -%}
{%- endmacro %}
