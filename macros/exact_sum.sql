{#-
  Sum of money amounts in whole cents, as a double. A parallel GROUP BY adds doubles in whatever
  order its threads finish, so a plain sum differs in the last bits from run to run (and rounding
  the result only moves the problem to the rounding edge). Integer cents add exactly in any order:
  the same inputs give the same sum, every run, on every engine.
-#}
{% macro exact_sum(expr) -%}
    cast(sum(cast(round({{ expr }} * 100) as bigint)) as {{ type_double() }}) / 100
{%- endmacro %}
