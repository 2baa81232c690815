{{ config(materialized="view") }}
-- Every version of every report (latest from finance_data, superseded from _versions) with the
-- reason it is unusable. A report cannot be announced before its period ends.
with versions as (
    select code, report_period, ann_date, roe, eps, revenue, net_profit, net_profit_yoy, bps, source, loaded_at
    from {{ source('raw', 'finance_data') }}
    union all
    select code, report_period, ann_date, roe, eps, revenue, net_profit, net_profit_yoy, bps, source, loaded_at
    from {{ source('raw', 'finance_data_versions') }}
),

ranked as (
    select
        *,
        row_number() over (partition by code, report_period, ann_date order by loaded_at desc) as key_rank
    from versions
)

select
    *,
    case
        when key_rank > 1 then 'duplicate key (older copy)'
        when ann_date is null then 'missing ann_date'
        when ann_date < report_period then 'announced before period end'
    end as reason
from ranked
