-- One row per stock and report period of a distribution: cash per share (CNY, pre-tax), bonus
-- shares per share and payout ratio (a fraction of that period's net profit).
-- ex_trade_date: the session the action takes effect: the ex-date itself, or the next session when
-- a source (the sample; a mis-keyed record) puts it on a non-trading day. The broker books it then
-- (qmt/data.load_dividends); null while the calendar does not reach the ex-date yet.
with dividends as (
    select
        *,
        row_number() over (partition by code, report_period order by loaded_at desc) as rn
    from {{ source('raw', 'dividend') }}
),

latest as (
    select * from dividends where rn = 1 and ann_date is not null
),

ex_sessions as (
    select d.code, d.report_period, min(c.trade_date) as ex_trade_date
    from latest as d
    inner join {{ ref('stg_trade_calendar') }} as c on c.trade_date >= cast(d.ex_date as date)
    group by d.code, d.report_period
)

select
    d.code,
    cast(d.report_period as date) as report_period,
    cast(d.ann_date as date) as ann_date,
    cast(d.ex_date as date) as ex_date,
    e.ex_trade_date,
    coalesce(d.cash_div_per_share, 0) as cash_div_per_share,
    coalesce(d.bonus_ratio, 0) as bonus_ratio,
    d.payout_ratio,
    d.source
from latest as d
left join ex_sessions as e on d.code = e.code and d.report_period = e.report_period
