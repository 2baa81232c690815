{{
    config(
        materialized='incremental',
        unique_key=['trade_date', 'factor', 'horizon', 'quantile']
    )
}}
-- depends_on: {{ ref('stg_trade_calendar') }}
-- One row per trading day, factor, horizon h and quantile bucket: the bucket's membership turnover
-- over h sessions (= alphalens quantile_turnover(quantile_factor, quantile, period=h)).
--
--   turnover(t, f, h, q) = |stocks in bucket q on t that were not in bucket q on session t - h|
--                          / |stocks in bucket q on t|
-- Measured by membership, not rank autocorrelation. A stock outside the universe on t - h (not
-- yet eligible, suspended) counts as new. No row when the factor has no buckets on t - h.
-- Uses only scores of t and t - h: no forward data, but kept here beside the other statistics.
-- Incremental: recomputes the sessions still open at the last build, reading h sessions earlier.
with calendar as (
    select trade_date, day_seq from {{ ref('stg_trade_calendar') }}
),

quantiles as (
    select q.code, q.trade_date, q.factor, q.quantile, c.day_seq
    from {{ ref('eval_factor_quantiles') }} as q
    inner join calendar as c on q.trade_date = c.trade_date
    {%- if is_incremental() %}
    where q.trade_date >= {{ eval_recompute_from(eval_max_horizon()) }}
    {%- endif %}
),

horizons as (
    {{ eval_horizon_rows() }}
),

factor_days as (
    select distinct factor, day_seq from quantiles
),

members as (
    select q.code, q.trade_date, q.factor, q.quantile, q.day_seq, h.horizon
    from quantiles as q
    cross join horizons as h
    -- only days whose session t - h has buckets of this factor
    inner join factor_days as d on q.factor = d.factor and d.day_seq = q.day_seq - h.horizon
),

flagged as (
    select
        m.*,
        case when p.code is null then 1 else 0 end as is_new
    from members as m
    -- the same stock in the same bucket of the same factor h sessions earlier (at most one row)
    left join quantiles as p
        on m.code = p.code and m.factor = p.factor and m.quantile = p.quantile
        and p.day_seq = m.day_seq - m.horizon
)

select
    trade_date,
    factor,
    horizon,
    quantile,
    count(*) as n_stocks,
    cast(sum(is_new) as {{ type_double() }}) / count(*) as turnover
from flagged
{%- if is_incremental() %}
where trade_date >= {{ eval_recompute_from() }}
{%- endif %}
group by trade_date, factor, horizon, quantile
