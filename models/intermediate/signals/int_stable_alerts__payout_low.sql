-- One row per alert episode of a watched stock: the payout ratio of its latest announced dividend
-- and of the dividend before it were both below var stable_payout_min. Raised on the first
-- trading day the condition holds (as known that day) after a day it did not.
with states as (
    select *
    from {{ ref('int_fundamentals__pit_events') }}
    where {{ stable_watched('code') }}
),

flagged as (
    select
        *,
        coalesce(
            payout_ratio < {{ var('stable_payout_min') }}
            and prev_payout_ratio < {{ var('stable_payout_min') }},
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
    'payout_low' as rule,
    {{ var('stable_payout_priority') }} as priority,
    payout_ratio as metric_value,
    {{ var('stable_payout_min') }} as threshold,
    div_report_period as report_period,
    prev_div_report_period as prev_report_period,
    div_ann_date as ann_date,
    {{ dbt.concat([
        "'payout ratio '", stable_fmt_pct('payout_ratio'),
        "' (period '", stable_fmt_date('div_report_period'), "', announced '", stable_fmt_date('div_ann_date'),
        "') and '", stable_fmt_pct('prev_payout_ratio'),
        "' (period '", stable_fmt_date('prev_div_report_period'),
        "') both below '", stable_fmt_pct(var('stable_payout_min') | string)
    ]) }} as reason
from episodes
where tripped
  and not coalesce(was_tripped, false)
