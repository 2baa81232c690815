-- One row per alert episode of a watched stock: cumulative net profit YoY of the latest announced
-- quarter and of the quarter right before it were both below -var stable_np_yoy_drop (a missing
-- quarter breaks the chain). Raised on the first trading day the condition holds (as known that
-- day, restatements included) after a day it did not.
with states as (
    select *
    from {{ ref('int_fundamentals__pit_events') }}
    where {{ stable_watched('code') }}
),

flagged as (
    select
        *,
        coalesce(
            net_profit_yoy < -{{ var('stable_np_yoy_drop') }}
            and prev_net_profit_yoy < -{{ var('stable_np_yoy_drop') }},
            false
        ) as tripped
    from states
),

episodes as (
    select
        *,
        lag(tripped) over (partition by code order by valid_from) as was_tripped
    from flagged
)

select
    code,
    valid_from as trade_date,
    'earnings_drop' as rule,
    {{ var('stable_earnings_priority') }} as priority,
    net_profit_yoy as metric_value,
    -{{ var('stable_np_yoy_drop') }} as threshold,
    report_period,
    prev_report_period,
    ann_date,
    {{ dbt.concat([
        "'net profit YoY '", stable_fmt_pct('net_profit_yoy'),
        "' (period '", stable_fmt_date('report_period'), "', announced '", stable_fmt_date('ann_date'),
        "') and '", stable_fmt_pct('prev_net_profit_yoy'),
        "' (period '", stable_fmt_date('prev_report_period'),
        "') both below '", stable_fmt_pct('-' ~ var('stable_np_yoy_drop'))
    ]) }} as reason
from episodes
where tripped
  and not coalesce(was_tripped, false)
