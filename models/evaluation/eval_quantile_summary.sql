-- One row per factor, horizon and quantile bucket over the whole evaluated period: the mean of the
-- bucket's daily mean forward return (alphalens mean_return_by_quantile, demeaned=False, then
-- averaged over days) and the bucket's mean size. An h-session return. Rebuilt in full each time
-- from eval_quantile_returns_daily (small).
select
    factor,
    horizon,
    quantile,
    min(trade_date) as first_date,
    max(trade_date) as last_date,
    count(*) as n_days,
    avg(mean_return) as mean_return,
    stddev_samp(mean_return) as return_std,
    avg(cast(n_stocks as {{ type_double() }})) as mean_stocks
from {{ ref('eval_quantile_returns_daily') }}
group by factor, horizon, quantile
