-- One row per stock and report period of a distribution: cash per share (CNY, pre-tax), bonus
-- shares per share and payout ratio (a fraction of that period's net profit).
-- ex_trade_date: the session the action takes effect: the ex-date itself, or the next session when
-- a source (the sample; a mis-keyed record) puts it on a non-trading day. The broker books it then
-- (qmt/data.load_dividends); null while the calendar does not reach the ex-date yet.
-- raw.trade_calendar holds every calendar day with is_open (sample, tushare trade_cal, akshare
-- via the loader); a session ex-date maps to itself even if closed days are missing.
with dividends as (
    select
        *,
        row_number() over (partition by code, report_period order by loaded_at desc) as rn
    from {{ source('raw', 'dividend') }}
),

latest as (
    select * from dividends where rn = 1 and ann_date is not null
),

-- every calendar day -> the first session on or after it (an equality join below, no range join:
-- dividends x sessions would be 10^8 pairs at full scale). The longest A-share closure (Spring
-- Festival) is under 15 calendar days.
next_session as (
    select
        cast(trade_date as date) as cal_date,
        min(case when is_open then cast(trade_date as date) end) over (
            order by trade_date rows between current row and 15 following
        ) as ex_trade_date
    from {{ source('raw', 'trade_calendar') }}
)

select
    d.code,
    cast(d.report_period as date) as report_period,
    cast(d.ann_date as date) as ann_date,
    cast(d.ex_date as date) as ex_date,
    coalesce(e.ex_trade_date, case when c.trade_date is not null then cast(d.ex_date as date) end) as ex_trade_date,
    coalesce(d.cash_div_per_share, 0) as cash_div_per_share,
    coalesce(d.bonus_ratio, 0) as bonus_ratio,
    d.payout_ratio,
    d.source
from latest as d
left join next_session as e on e.cal_date = cast(d.ex_date as date)
left join {{ ref('stg_trade_calendar') }} as c on c.trade_date = cast(d.ex_date as date)
