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
-- Incremental: recomputes the sessions still open at the last build (eval_recompute_from).
with quantiles as (
    select code, trade_date, factor, quantile
    from {{ ref('eval_factor_quantiles') }}
    {%- if is_incremental() %}
    where trade_date >= {{ eval_recompute_from() }}
    {%- endif %}
),

forward as (
    select code, trade_date, horizon, fwd_return
    from {{ ref('eval_forward_returns') }}
    {%- if is_incremental() %}
    where trade_date >= {{ eval_recompute_from() }}
    {%- endif %}
)

select
    q.trade_date,
    q.factor,
    f.horizon,
    q.quantile,
    count(*) as n_stocks,
    avg(f.fwd_return) as mean_return
from quantiles as q
inner join forward as f on q.code = f.code and q.trade_date = f.trade_date
group by q.trade_date, q.factor, f.horizon, q.quantile
