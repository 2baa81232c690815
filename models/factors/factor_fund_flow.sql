-- depends_on: {{ ref('stg_daily_quote') }}  (reads stg_daily_quote_base, the table under that view: no *_qfq needed; the ref keeps the view in every +model selection)
{{ config(materialized='incremental') }}
-- One row per stock and trading day: the industry fund-flow score the stock inherits from its
-- Shenwan level-1 industry that day (point-in-time, stg_stock_state_periods), less a penalty for
-- its own short-selling pressure. The short balance of day D is published the next morning: the
-- one used on D is dated `avail_lag_margin_north` sessions earlier (stg_trade_calendar).
--
--   short_pressure  short balance / float market cap
--   penalty         `short_pressure_penalty` x percent rank of short_pressure among all stocks
--                   with a short balance that day (stocks not eligible for shorting: 0)
--   industry_score  max(0, industry's score - penalty), 0-10
with stocks as (
    select
        q.code,
        q.trade_date,
        st.industry_l1,
        f.short_balance,
        case when q.circ_mv > 0 then f.short_balance / q.circ_mv end as short_pressure
    from {{ ref('stg_daily_quote_base') }} as q
    inner join {{ ref('stg_stock_state_periods') }} as st
        on q.code = st.code and q.trade_date between st.valid_from and st.valid_to
    inner join {{ ref('stg_trade_calendar') }} as c on c.trade_date = q.trade_date
    left join {{ ref('stg_trade_calendar') }} as avail
        on avail.day_seq = c.day_seq - {{ var('avail_lag_margin_north') }}
    left join {{ ref('stg_funds_flow') }} as f on q.code = f.code and f.trade_date = avail.trade_date
    {%- if is_incremental() %}
        -- the lagged days of the new ones, on this side too (see new_days_only)
        and f.trade_date >= {{ incremental_lookback_start(var('avail_lag_margin_north')) }}
    -- incremental: every measure is of its own day, so only the new days are read
    where q.trade_date > {{ incremental_last_day() }}
    {%- endif %}
),

ranked as (
    select
        *,
        case
            when short_pressure is null then 0
            else {{ var('short_pressure_penalty') }} * {{ cross_rank('short_pressure', 'trade_date') }}
        end as short_penalty
    from stocks
)

select
    r.code,
    r.trade_date,
    r.industry_l1,
    ind.industry_score as industry_flow_score,
    ind.industry_rank,
    r.short_pressure,
    r.short_penalty,
    greatest(coalesce(ind.industry_score, 5) - r.short_penalty, 0) as industry_score,
    ind.industry_score is null as industry_flow_missing
from ranked as r
left join {{ ref('factor_industry_flow') }} as ind
    on r.industry_l1 = ind.industry_l1
    and r.trade_date = ind.trade_date
