-- One row per factor, horizon and quantile bucket over the whole evaluated period: the mean of the
-- bucket's daily mean forward return (alphalens mean_return_by_quantile, demeaned=False, then
-- averaged over days) and the bucket's mean size. An h-session return. Rebuilt in full each time
-- from eval_quantile_returns_daily (small).
select
    cast(factor as {{ type_varchar() }}) as factor,
    cast(horizon as integer) as horizon,
    cast(quantile as integer) as quantile,
    min(trade_date) as first_date,
    max(trade_date) as last_date,
    cast(count(*) as bigint) as n_days,
    cast(avg(mean_return) as {{ type_double() }}) as mean_return,
    cast(stddev_samp(mean_return) as {{ type_double() }}) as return_std,
    cast(avg(cast(n_stocks as {{ type_double() }})) as {{ type_double() }}) as mean_stocks
from {{ ref('eval_quantile_returns_daily') }}
group by factor, horizon, quantile
