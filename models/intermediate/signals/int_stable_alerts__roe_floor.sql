-- One row per alert episode of a watched stock: ROE (TTM, or YTD annualised when last year's
-- reports are unknown) of the latest announced quarter and of the quarter right before it were
-- both below var stable_roe_floor. Raised on the first trading day the condition holds (as known
-- that day) after a day it did not.
with states as (
    select *
    from {{ ref('int_fundamentals__pit_events') }}
    where {{ stable_watched('code') }}
),

flagged as (
    select
        *,
        coalesce(
            roe_annualised < {{ var('stable_roe_floor') }}
            and prev_roe_annualised < {{ var('stable_roe_floor') }},
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
    'roe_floor' as rule,
    {{ var('stable_roe_priority') }} as priority,
    roe_annualised as metric_value,
    {{ var('stable_roe_floor') }} as threshold,
    report_period,
    prev_report_period,
    ann_date,
    {{ dbt.concat([
        "'ROE (TTM) '", stable_fmt_pct('roe_annualised'),
        "' (period '", stable_fmt_date('report_period'), "', announced '", stable_fmt_date('ann_date'),
        "') and '", stable_fmt_pct('prev_roe_annualised'),
        "' (period '", stable_fmt_date('prev_report_period'),
        "') both below '", stable_fmt_pct(var('stable_roe_floor') | string)
    ]) }} as reason
from episodes
where tripped
  and not coalesce(was_tripped, false)
