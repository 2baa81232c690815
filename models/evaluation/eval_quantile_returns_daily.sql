{{
    config(
        materialized='incremental',
        unique_key=['trade_date', 'factor', 'horizon', 'quantile']
    )
}}
-- depends_on: {{ ref('stg_trade_calendar') }}
-- One row per trading day, factor, horizon and quantile bucket: the equal-weighted mean forward
-- return of the bucket's stocks (= alphalens mean_return_by_quantile(by_date=True, demeaned=False)).
--
--   mean_return(t, f, h, q) = mean of fwd_return_h over the stocks in bucket q of factor f on day t
-- An h-session return, not a daily rate: compare buckets within one horizon.
-- How: the forward returns are laid out one row per stock and day (a column per horizon), so the
-- bucket rows join them once instead of once per horizon, and one hash aggregate gives every
-- horizon's mean (then one row per horizon).
-- Incremental: recomputes the sessions still open at the last build (eval_recompute_from).
with quantiles as (
    select code, trade_date, factor, quantile
    from {{ ref('eval_factor_quantiles') }}
    {%- if is_incremental() %}
    where trade_date >= {{ eval_recompute_from() }}
    {%- endif %}
),

forward as (
    select
        code,
        trade_date
        {%- for h in var('eval_horizons') %},
        max(case when horizon = {{ h }} then fwd_return end) as fwd_return_{{ h }},
        count(case when horizon = {{ h }} then 1 end) as has_{{ h }}
        {%- endfor %}
    from {{ ref('eval_forward_returns') }}
    {%- if is_incremental() %}
    where trade_date >= {{ eval_recompute_from() }}
    {%- endif %}
    group by code, trade_date
),

buckets as (
    select
        q.trade_date,
        q.factor,
        q.quantile
        {%- for h in var('eval_horizons') %},
        sum(f.has_{{ h }}) as n_stocks_{{ h }},
        avg(f.fwd_return_{{ h }}) as mean_return_{{ h }}
        {%- endfor %}
    from quantiles as q
    inner join forward as f on q.code = f.code and q.trade_date = f.trade_date
    group by q.trade_date, q.factor, q.quantile
)

{%- for h in var('eval_horizons') %}
select
    trade_date,
    factor,
    {{ h }} as horizon,
    quantile,
    cast(n_stocks_{{ h }} as bigint) as n_stocks,
    mean_return_{{ h }} as mean_return
from buckets
where n_stocks_{{ h }} > 0
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}
