-- One row per factor and horizon over the whole evaluated period: IC statistics, the top-minus-
-- bottom quantile spread and the turnover of the extreme buckets. Rows of one factor across
-- horizons are its IC decay. Rebuilt in full each time from the daily tables (small: a few rows
-- per day).
--
--   ic_mean   = mean of the daily rank_ic (days with a null IC are left out)
--   ic_std    = sample standard deviation of the daily rank_ic (n - 1)
--   icir      = ic_mean / ic_std (per day, not annualised)
--   ic_t_stat = ic_mean / (ic_std / sqrt(n_days)) (overlapping h-session returns make the days
--               dependent for h > 1, so read it as an upper bound)
--   spread    = mean over days of (mean_return of the top bucket - mean_return of the bottom
--               bucket), days where both buckets exist (an h-session return)
--   turnover  = mean over days of the top / bottom bucket's membership turnover over h sessions
{%- set q = var('eval_quantiles') %}

with ic as (
    select
        factor,
        horizon,
        min(trade_date) as first_date,
        max(trade_date) as last_date,
        count(rank_ic) as n_days,
        avg(rank_ic) as ic_mean,
        stddev_samp(rank_ic) as ic_std,
        avg(case when rank_ic > 0 then 1.0 when rank_ic is not null then 0.0 end) as ic_positive_share
    from {{ ref('eval_ic_daily') }}
    group by factor, horizon
),

spread_daily as (
    select
        top.factor,
        top.horizon,
        top.trade_date,
        top.mean_return - bottom.mean_return as spread
    from {{ ref('eval_quantile_returns_daily') }} as top
    inner join {{ ref('eval_quantile_returns_daily') }} as bottom
        on top.factor = bottom.factor and top.horizon = bottom.horizon and top.trade_date = bottom.trade_date
    where top.quantile = {{ q }} and bottom.quantile = 1
),

spread as (
    select factor, horizon, count(*) as n_spread_days, avg(spread) as spread_mean, stddev_samp(spread) as spread_std
    from spread_daily
    group by factor, horizon
),

turnover as (
    select
        factor,
        horizon,
        avg(case when quantile = {{ q }} then turnover end) as top_turnover,
        avg(case when quantile = 1 then turnover end) as bottom_turnover
    from {{ ref('eval_turnover_daily') }}
    group by factor, horizon
)

select
    cast(ic.factor as {{ type_varchar() }}) as factor,
    cast(ic.horizon as integer) as horizon,
    ic.first_date,
    ic.last_date,
    cast(ic.n_days as bigint) as n_days,
    cast(ic.ic_mean as {{ type_double() }}) as ic_mean,
    cast(ic.ic_std as {{ type_double() }}) as ic_std,
    cast(case when ic.ic_std > 0 then ic.ic_mean / ic.ic_std end as {{ type_double() }}) as icir,
    cast(
        case when ic.ic_std > 0 then ic.ic_mean / (ic.ic_std / sqrt(ic.n_days)) end as {{ type_double() }}
    ) as ic_t_stat,
    cast(ic.ic_positive_share as {{ type_double() }}) as ic_positive_share,
    cast(s.n_spread_days as bigint) as n_spread_days,
    cast(s.spread_mean as {{ type_double() }}) as spread_mean,
    cast(s.spread_std as {{ type_double() }}) as spread_std,
    cast(t.top_turnover as {{ type_double() }}) as top_turnover,
    cast(t.bottom_turnover as {{ type_double() }}) as bottom_turnover
from ic
left join spread as s on ic.factor = s.factor and ic.horizon = s.horizon
left join turnover as t on ic.factor = t.factor and ic.horizon = t.horizon
