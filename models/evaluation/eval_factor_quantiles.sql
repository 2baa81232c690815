{{
    config(
        materialized='incremental',
        unique_key=['code', 'trade_date', 'factor']
    )
}}
-- One row per stock, trading day and evaluated factor (var eval_factors): the stock's score, its
-- cross-sectional average rank that day and its quantile bucket. No future data: a day's buckets
-- use that day's scores only (the forward returns are joined downstream).
--
--   universe   = rows of factor_scores with a non-null score (only buy_eligible ones when
--                var eval_eligible_only), on days with at least var eval_min_stocks of them
--   score_rank = average rank of the score among them (1 = lowest; ties share the mean position)
--   quantile   = ceil(Q x score_rank / n_stocks), Q = var eval_quantiles: 1 = lowest scores,
--                Q = highest; tied scores always share a bucket (so buckets can differ in size)
-- Incremental: factor_scores only appends days, so a build adds the days after the latest one here.
{%- set q = var('eval_quantiles') %}

with scores as (
    select *
    from {{ ref('factor_scores') }}
    where true
    {%- if var('eval_eligible_only') %}
      and buy_eligible
    {%- endif %}
    {%- if is_incremental() %}
      and trade_date > {{ incremental_last_day() }}
    {%- endif %}
),

-- One window pass per factor, partitioned by day only: the same ranks as a pass over the union of
-- every factor partitioned by (day, factor), without building and sorting the 5x longer union.
ranked as (
    {%- for f in var('eval_factors') %}
    select
        code,
        trade_date,
        '{{ f }}' as factor,
        cast({{ f }} as {{ type_double() }}) as score,
        cast({{ eval_avg_rank('cast(' ~ f ~ ' as ' ~ type_double() ~ ')', 'trade_date') }} as {{ type_double() }})
            as score_rank,
        count(*) over (partition by trade_date) as n_stocks
    from scores
    where {{ f }} is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select
    code,
    trade_date,
    factor,
    score,
    score_rank,
    n_stocks,
    cast(ceil({{ q }} * score_rank / n_stocks) as integer) as quantile
from ranked
where n_stocks >= {{ var('eval_min_stocks') }}
