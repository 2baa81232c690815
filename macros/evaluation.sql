{#-
  Helpers of the evaluation layer (models/evaluation, docs/evaluation.md).
-#}

{#- The longest forward-return horizon (sessions). -#}
{% macro eval_max_horizon() -%}
    {{ var('eval_horizons') | max }}
{%- endmacro %}

{#-
  For incremental evaluation models: the first session to recompute. A row for day t and horizon h
  appears once session t + h is loaded, so the rows still missing after the last build are at most
  max(eval_horizons) sessions before the latest day in {{ this }}; recomputing from there
  (`extra` more sessions back for a model that also reads earlier days) and replacing the rows
  (delete+insert) gives what a full build gives. 1900-01-01 when {{ this }} is empty.
  Needs `-- depends_on: {{ ref('stg_trade_calendar') }}` in the calling model.
-#}
{% macro eval_recompute_from(extra=0) -%}
    coalesce((
        select min(c.trade_date)
        from {{ ref('stg_trade_calendar') }} as c
        where c.day_seq >= (
            select max(c2.day_seq) - {{ eval_max_horizon() | int + extra | int }}
            from {{ ref('stg_trade_calendar') }} as c2
            where c2.trade_date <= (select max(t.trade_date) from {{ this }} as t)
        )
    ), cast('1900-01-01' as date))
{%- endmacro %}

{#- One row per horizon of var('eval_horizons'): `select 1 as horizon union all select 5 ...`. -#}
{% macro eval_horizon_rows() -%}
    {%- for h in var('eval_horizons') %}
    select {{ h }} as horizon{% if not loop.last %} union all{% endif %}
    {%- endfor %}
{%- endmacro %}

{#-
  Average rank (1 = lowest; tied values share the mean of their positions, as scipy.stats.rankdata
  and pandas rank(method='average') do) of `col` within `partition_by`: the mean of the tie group's
  first position, rank(), and its last one, the number of rows <= the value (count(*) over the
  default frame of an ordered window, `range between unbounded preceding and current row`, which
  ends after the last peer). Exact: (min_rank + max_rank) / 2. Both use one window spec, so the
  engine sorts once (a count over (partition by ..., col) would be a second partitioning).
-#}
{% macro eval_avg_rank(col, partition_by) -%}
    ({{ eval_twice_avg_rank(col, partition_by) }}) / 2.0
{%- endmacro %}

{#- 2 x eval_avg_rank(col, partition_by), an integer (bigint): min_rank + max_rank. -#}
{% macro eval_twice_avg_rank(col, partition_by) -%}
    rank() over (partition by {{ partition_by }} order by {{ col }})
    + count(*) over (partition by {{ partition_by }} order by {{ col }})
{%- endmacro %}
