-- One row per raw row that did not flow on, with the table it came from and why.
select
    'daily_quote' as source_table,
    code,
    trade_date as row_date,
    reason,
    source,
    loaded_at
from {{ ref('int_daily_quote__checked') }}
where reason is not null

union all

select
    'finance_data' as source_table,
    code,
    report_period as row_date,
    reason,
    source,
    loaded_at
from {{ ref('int_finance_data__checked') }}
where reason is not null

union all

-- rows of raw.funds_flow that are not A-share stocks (ETFs from the exchanges' margin lists)
select
    'funds_flow' as source_table,
    code,
    cast(trade_date as date) as row_date,
    'not an A-share stock code (fund/ETF/B share)' as reason,
    source,
    loaded_at
from {{ source('raw', 'funds_flow') }}
where not {{ is_stock_code('code') }}
