-- One row per raw row that did not flow on, with the table it came from and why.
select
    'daily_quote' as source_table,
    code,
    trade_date as row_date,
    reason,
    source,
    loaded_at
from {{ ref('chk_daily_quote') }}
where reason is not null

union all

select
    'finance_data' as source_table,
    code,
    report_period as row_date,
    reason,
    source,
    loaded_at
from {{ ref('chk_finance_data') }}
where reason is not null
