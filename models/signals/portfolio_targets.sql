-- One row per rebalance date and picked stock: the rotation's target weights.
--
-- Rebalance on the last trading day of each week (or month, `rotation_frequency`) that the data
-- reaches. Pick the top `rotation_top_industries` industries by industry fund-flow score, then in
-- each the top `rotation_top_stocks` buy-eligible stocks by composite score (at least
-- `rotation_min_score`). Equal weights, capped at `max_weight_stock` per stock; an industry above
-- `max_weight_industry` is scaled down to it. Whatever the caps cut stays in cash.
-- The picks are what ENTERS the offensive portfolio: with `rotation_exit` false (the default) the
-- strategy buys the picks it does not hold and sells nothing only for leaving the list; exits come
-- from the offense sell signals, the stops and targets. The strategy reads the same two caps
-- (qmt/knobs.py) and trims holdings above them on each rebalance date.
with last_day as (
    select max(trade_date) as max_date from {{ ref('factor_scores') }}
),

calendar as (
    select
        c.trade_date,
        cast({{ dbt.date_trunc(var('rotation_frequency'), 'c.trade_date') }} as date) as period_start
    from {{ ref('stg_trade_calendar') }} as c
),

rebalance_dates as (
    select max(trade_date) as rebalance_date
    from calendar
    group by period_start
),

industries as (
    select f.trade_date as rebalance_date, f.industry_l1, f.industry_rank, f.industry_score
    from {{ ref('factor_industry_flow') }} as f
    inner join rebalance_dates as r on f.trade_date = r.rebalance_date
    where f.industry_rank <= {{ var('rotation_top_industries') }}
),

candidates as (
    select
        i.rebalance_date,
        s.code,
        s.industry_l1,
        s.composite_score,
        i.industry_rank,
        i.industry_score,
        row_number() over (
            partition by i.rebalance_date, s.industry_l1 order by s.composite_score desc, s.code asc
        ) as stock_rank
    from industries as i
    inner join {{ ref('factor_scores') }} as s
        on s.trade_date = i.rebalance_date
        and s.industry_l1 = i.industry_l1
    cross join last_day
    where s.buy_eligible
        and s.composite_score >= {{ var('rotation_min_score') }}
        and i.rebalance_date <= last_day.max_date
),

picked as (
    select
        *,
        least(
            1.0 / count(*) over (partition by rebalance_date),
            {{ var('max_weight_stock') }}
        ) as capped_weight
    from candidates
    where stock_rank <= {{ var('rotation_top_stocks') }}
),

industry_capped as (
    select
        *,
        sum(capped_weight) over (partition by rebalance_date, industry_l1) as industry_weight
    from picked
)

select
    rebalance_date,
    code,
    industry_l1,
    industry_rank,
    industry_score,
    stock_rank,
    composite_score,
    -- typed: PostgreSQL's decimal arithmetic would give numeric, DuckDB double (the contract says double)
    cast(capped_weight * least(1.0, {{ var('max_weight_industry') }} / industry_weight) as {{ type_double() }})
        as target_weight
from industry_capped
