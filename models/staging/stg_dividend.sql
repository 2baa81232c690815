-- One row per stock and report period of a distribution: cash per share (CNY, pre-tax), bonus
-- shares per share and payout ratio (a fraction of that period's net profit).
with dividends as (
    select
        *,
        row_number() over (partition by code, report_period order by loaded_at desc) as rn
    from {{ source('raw', 'dividend') }}
)

select
    code,
    cast(report_period as date) as report_period,
    cast(ann_date as date) as ann_date,
    cast(ex_date as date) as ex_date,
    -- the session the action takes effect: the ex-date itself, or the next session when a source
    -- (the sample; a mis-keyed record) puts it on a non-trading day. The broker books it then.
    (
        select min(c.trade_date) from {{ ref('stg_trade_calendar') }} as c
        where c.trade_date >= cast(dividends.ex_date as date)
    ) as ex_trade_date,
    coalesce(cash_div_per_share, 0) as cash_div_per_share,
    coalesce(bonus_ratio, 0) as bonus_ratio,
    payout_ratio,
    source
from dividends
where rn = 1
  and ann_date is not null
