-- One row per stock, report period and announced version. Figures are cumulative year-to-date
-- as reported; point-in-time readers pick the latest version with ann_date <= their day.
with clean as (
    select * from {{ ref('int_finance_data__checked') }}
    where reason is null
)

select
    code,
    cast(report_period as date) as report_period,
    cast(ann_date as date) as ann_date,
    cast({{ dbt.date_trunc('year', 'report_period') }} as date) as fiscal_year_start,
    {{ fiscal_quarter('report_period') }} as fiscal_quarter,
    roe,
    eps,
    revenue,
    net_profit,
    net_profit_yoy,
    bps,
    row_number() over (partition by code, report_period order by ann_date desc) as version_rank,
    source
from clean
