{{ config(materialized="view") }}
-- Every raw daily bar with the first reason it is unusable (null when it is clean).
-- stg_daily_quote keeps the clean rows; quarantine shows the rest.
with quotes as (
    select
        q.*,
        count(*) over (partition by q.code, q.trade_date) as key_count,
        row_number() over (partition by q.code, q.trade_date order by q.loaded_at desc) as key_rank
    from {{ source('raw', 'daily_quote') }} as q
),

calendar as (
    select trade_date from {{ ref('stg_trade_calendar') }}
)

select
    quotes.*,
    case
        when quotes.key_rank > 1 then 'duplicate key (older copy)'
        when quotes.open is null or quotes.high is null or quotes.low is null or quotes.close is null
            then 'missing price'
        when quotes.open <= 0 or quotes.high <= 0 or quotes.low <= 0 or quotes.close <= 0
            then 'non-positive price'
        when quotes.high < quotes.low then 'high < low'
        when quotes.open > quotes.high or quotes.open < quotes.low
            or quotes.close > quotes.high or quotes.close < quotes.low then 'open/close outside high-low'
        when quotes.volume < 0 or quotes.amount < 0 then 'negative volume or amount'
        when quotes.adj_factor is null or quotes.adj_factor <= 0 then 'missing or non-positive adj_factor'
        when calendar.trade_date is null then 'date off the trading calendar'
        when quotes.pre_close > 0
            and abs(quotes.close / quotes.pre_close - 1) > {{ var('quote_max_abs_return') }}
            then 'close too far from pre_close'
    end as reason
from quotes
left join calendar on quotes.trade_date = calendar.trade_date
