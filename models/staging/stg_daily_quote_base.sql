{{
    config(
        materialized='incremental',
        pre_hook="{{ daily_quote_delete_redone(incremental_loaded_after(literal=true)) }}",
        post_hook=[
            "{{ pg_index(['loaded_at']) }}",
            "{{ pg_index(['code', 'trade_date'], include=['pe_ttm', 'pb']) }}"
        ]
    )
}}
-- One row per stock and trading day: clean unadjusted bars plus close_hfq (back-adjusted,
-- = close * adj_factor, never changes when new data arrives). stg_daily_quote is this table plus
-- the forward-adjusted prices, which depend on each stock's latest factor and so are computed on
-- read (a view) instead of being rewritten for a stock's whole history at every ex-date.
-- Incremental: for each stock with raw rows loaded since the last build (raw loaded_at), its bars
-- from the earliest such day on are re-checked and re-staged (macros/daily_quote_checked.sql: the
-- checks' windows read only those rows and a short lookback, not all of raw); the pre_hook first
-- removes them, so a bar whose newest copy is quarantined disappears.
-- depends_on: {{ ref('stg_trade_calendar') }} {{ ref('stg_stock_info') }}  (read by the incremental checks)
with clean as (
    select *
    {%- if is_incremental() %}
    from ({{ daily_quote_checked(incremental_loaded_after(literal=true)) }}) as checked
    {%- else %}
    from {{ ref('int_daily_quote__checked') }}
    {%- endif %}
    where reason is null
)

select
    clean.code,
    clean.trade_date,
    clean.open,
    clean.high,
    clean.low,
    clean.close,
    clean.pre_close,
    clean.volume,
    clean.amount,
    clean.turnover_rate,
    clean.adj_factor,
    clean.close * clean.adj_factor as close_hfq,
    clean.pe_ttm,
    clean.pb,
    clean.total_mv,
    clean.circ_mv,
    clean.source,
    clean.loaded_at
from clean
