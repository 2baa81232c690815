{{
    config(
        materialized='incremental',
        unique_key=['source_table', 'code', 'row_date'],
        pre_hook=[
            "{{ daily_quote_delete_redone(incremental_loaded_after(literal=true), 'row_date', \"t.source_table = 'daily_quote'\") }}",
            "{% if is_incremental() %}delete from {{ this }} where source_table = 'finance_data'{% else %}select 1{% endif %}"
        ],
        post_hook=["{{ pg_index(['loaded_at']) }}"]
    )
}}
-- One row per raw row that did not flow on, with the table it came from and why.
-- Incremental (the daily_quote part was a window over every raw bar): daily bars as
-- stg_daily_quote_base redoes them (a stock's bars from its earliest bar loaded since the last
-- build on); funds_flow rows loaded since then; finance_data (small) in full. The pre_hooks
-- delete what may have left (a bar now clean, every finance row), the delete+insert on the key
-- replaces the rest. The watermark is the newest loaded_at of the rows held here, so a build
-- after a spell with nothing quarantined redoes that spell too (same result, more work).
-- depends_on: {{ ref('stg_trade_calendar') }} {{ ref('stg_stock_info') }}  (read by the incremental checks)
select
    'daily_quote' as source_table,
    code,
    trade_date as row_date,
    reason,
    source,
    loaded_at
{%- if is_incremental() %}
from ({{ daily_quote_checked(incremental_loaded_after(literal=true)) }}) as checked
{%- else %}
from {{ ref('int_daily_quote__checked') }}
{%- endif %}
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
{%- if is_incremental() %}
  and loaded_at > {{ incremental_loaded_after(literal=true) }}
{%- endif %}
