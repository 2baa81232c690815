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
-- How: the buckets are laid out one row per stock and session (a column per factor), so each
-- row finds its buckets h sessions earlier with one hash join per horizon on (code, session - h)
-- rather than a join of every (stock, day, factor, horizon) row back to the whole table; one hash
-- aggregate then counts the new members of every horizon.
-- Incremental: recomputes the sessions still open at the last build, reading h sessions earlier.
{%- set factors = var('eval_factors') %}
{%- set horizons = var('eval_horizons') %}

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

factor_days as (
    select distinct factor, day_seq from quantiles
),

-- one row per stock and session: its bucket of every factor (null: outside that universe)
wide as (
    select
        code,
        day_seq,
        min(trade_date) as trade_date
        {%- for f in factors %},
        max(case when factor = '{{ f }}' then quantile end) as q_{{ loop.index }}
        {%- endfor %}
    from quantiles
    group by code, day_seq
),

-- 1 where the stock was not in the same bucket of the factor h sessions earlier
flagged as (
    select
        w.code,
        w.trade_date,
        w.day_seq
        {%- for f in factors %}
        {%- set i = loop.index %},
        w.q_{{ i }}
        {%- for h in horizons %},
        case when p{{ h }}.q_{{ i }} = w.q_{{ i }} then 0 else 1 end as new_{{ i }}_{{ h }}
        {%- endfor %}
        {%- endfor %}
    from wide as w
    {%- for h in horizons %}
    left join wide as p{{ h }} on w.code = p{{ h }}.code and p{{ h }}.day_seq = w.day_seq - {{ h }}
    {%- endfor %}
    {%- if is_incremental() %}
    where w.trade_date >= {{ eval_recompute_from() }}
    {%- endif %}
),

long as (
    {%- for f in factors %}
    {%- set i = loop.index %}
    select
        trade_date,
        day_seq,
        '{{ f }}' as factor,
        q_{{ i }} as quantile
        {%- for h in horizons %},
        new_{{ i }}_{{ h }} as is_new_{{ h }}
        {%- endfor %}
    from flagged
    where q_{{ i }} is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

buckets as (
    select
        trade_date,
        factor,
        quantile,
        day_seq,
        count(*) as n_stocks
        {%- for h in horizons %},
        sum(is_new_{{ h }}) as n_new_{{ h }}
        {%- endfor %}
    from long
    group by trade_date, factor, quantile, day_seq
)

{%- for h in horizons %}
select
    b.trade_date,
    b.factor,
    {{ h }} as horizon,
    b.quantile,
    b.n_stocks,
    cast(b.n_new_{{ h }} as {{ type_double() }}) / b.n_stocks as turnover
from buckets as b
-- only days whose session t - h has buckets of this factor
inner join factor_days as d on b.factor = d.factor and d.day_seq = b.day_seq - {{ h }}
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}
