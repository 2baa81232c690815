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
-- How: one sort of each stock's bucket rows per factor by session number; for each horizon h the
-- window frame `range between h preceding and h preceding` holds exactly the row of session t - h
-- (at most one: one row per stock, factor and day) or nothing, so max(quantile) over it is the
-- bucket h sessions earlier or null. No join of the rows to themselves (the hash joins of ~70 M
-- rows each ran out of DuckDB's pool at full scale); the aggregate keeps one small group per
-- (day, factor, horizon, bucket).
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

lagged as (
    select
        trade_date,
        factor,
        quantile,
        day_seq
        {%- for h in var('eval_horizons') %},
        max(quantile) over (
            partition by code, factor order by day_seq range between {{ h }} preceding and {{ h }} preceding
        ) as quantile_lag_{{ h }}
        {%- endfor %}
    from quantiles
),

horizons as (
    {{ eval_horizon_rows() }}
),

-- (factor, session) pairs that have buckets: a day is reported for h only if t - h has buckets
factor_days as (
    select distinct factor, day_seq from quantiles
),

counted as (
    select
        l.trade_date,
        l.factor,
        h.horizon,
        l.quantile,
        l.day_seq,
        count(*) as n_stocks,
        sum(case
            {%- for h in var('eval_horizons') %}
            when h.horizon = {{ h }} then case when l.quantile_lag_{{ h }} = l.quantile then 0 else 1 end
            {%- endfor %}
        end) as n_new
    from lagged as l
    cross join horizons as h
    {%- if is_incremental() %}
    where l.trade_date >= {{ eval_recompute_from() }}
    {%- endif %}
    group by l.trade_date, l.factor, h.horizon, l.quantile, l.day_seq
)

select
    c.trade_date,
    c.factor,
    c.horizon,
    c.quantile,
    c.n_stocks,
    cast(c.n_new as {{ type_double() }}) / c.n_stocks as turnover
from counted as c
inner join factor_days as d on c.factor = d.factor and d.day_seq = c.day_seq - c.horizon
