{{ config(materialized="view") }}
-- Every raw daily bar with the first reason it is unusable (null when it is clean).
-- stg_daily_quote keeps the clean rows; quarantine shows the rest.
-- The move check (|close / pre_close - 1| > quote_max_abs_return) skips a new listing's first
-- sessions, which have no price limit or a wider one (rules, dates and sources:
-- qmt/rules.py DEFAULT_NEW_LISTINGS): the first 5 sessions of STAR listings (from 2019-07-22),
-- ChiNext listings from 2020-08-24 and main-board listings from 2023-04-10; the listing day of
-- every other listing (BSE: listing day unlimited; main board / ChiNext: unlimited before 2014,
-- +44 % / -36 % of the issue price from 2014). Sessions are counted on the trading calendar from
-- stg_stock_info.list_date; a stock without a list_date gets no exemption.
-- Two checks catch defects real upstream files carry (tests/test_staging_real_defects.py):
-- * a bar loaded before the day's data was final (loaded_at earlier than quote_final_utc_minutes
--   after midnight UTC of its trade date: 15:30 Asia/Shanghai, after the STAR/ChiNext
--   after-hours fixed-price session) is an intraday snapshot with partial volume;
-- * a bar whose back-adjusted pre_close does not follow the previous bar's close (beyond
--   quote_continuity_tolerance) while that previous bar did follow its own predecessor belongs to
--   another stock (Eastmoney once served 000001.SZ a bar closing at 5.90 between 10.88 and 10.45).
--   The bar after such a bad one breaks too, but its predecessor was already broken, so it stays.
--   Only earlier bars are read (lags), so a bar's verdict never depends on a later day.
with quotes as (
    select
        q.*,
        count(*) over (partition by q.code, q.trade_date) as key_count,
        row_number() over (partition by q.code, q.trade_date order by q.loaded_at desc) as key_rank
    from {{ source('raw', 'daily_quote') }} as q
),

calendar as (
    select trade_date, day_seq from {{ ref('stg_trade_calendar') }}
),

-- Back-adjusted continuity of the latest copy of each bar with the bar before it, and the same
-- for the bar before (lags only: a bar is judged on what was known on its own day).
gaps as (
    select
        code,
        trade_date,
        pre_close * adj_factor
        / nullif(lag(close * adj_factor) over (partition by code order by trade_date), 0) - 1 as left_gap
    from quotes
    where key_rank = 1 and close > 0 and pre_close > 0 and adj_factor > 0
),

continuity as (
    select
        code,
        trade_date,
        left_gap,
        lag(left_gap) over (partition by code order by trade_date) as prev_left_gap
    from gaps
),

-- First session on or after the listing date, and how many sessions are exempt. The board is
-- read from the code as qmt/rules.py board_of does (688/689 .SH STAR, 300/301 .SZ ChiNext,
-- .BJ BSE, else main board).
listing as (
    select
        i.code,
        min(c.day_seq) as list_seq,
        case
            when i.code like '688%.SH' or i.code like '689%.SH' then 5
            when (i.code like '300%.SZ' or i.code like '301%.SZ')
                and i.list_date >= cast('2020-08-24' as date) then 5
            when i.code like '%.BJ' then 1
            when i.code like '%.SH' or i.code like '%.SZ' then
                case when i.list_date >= cast('2023-04-10' as date) then 5 else 1 end
            else 1
        end as exempt_sessions
    from {{ ref('stg_stock_info') }} as i
    inner join calendar as c
        on c.trade_date >= i.list_date
        and c.trade_date <= {{ dbt.dateadd('day', 31, 'i.list_date') }}
    where i.list_date is not null
    group by i.code, i.list_date
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
        when quotes.loaded_at < {{ dbt.dateadd('minute', var('quote_final_utc_minutes'),
                                               'cast(quotes.trade_date as timestamp)') }}
            then 'loaded before the day was final (intraday snapshot)'
        when abs(continuity.left_gap) > {{ var('quote_continuity_tolerance') }}
            and coalesce(abs(continuity.prev_left_gap), 0) <= {{ var('quote_continuity_tolerance') }}
            then 'breaks price continuity (a bar of another stock?)'
        when quotes.pre_close > 0
            and abs(quotes.close / quotes.pre_close - 1) > {{ var('quote_max_abs_return') }}
            and not coalesce(
                calendar.day_seq - listing.list_seq between 0 and listing.exempt_sessions - 1, false
            )
            then 'close too far from pre_close'
    end as reason
from quotes
left join calendar on quotes.trade_date = calendar.trade_date
left join listing on quotes.code = listing.code
left join continuity on quotes.code = continuity.code and quotes.trade_date = continuity.trade_date
