{{
    config(
        materialized='incremental',
        pre_hook="{{ staging_delete_touched(source('raw', 'daily_quote'), ['code', 'trade_date']) }}",
        post_hook=["{{ pg_index(['loaded_at']) }}"]
    )
}}
-- One row per stock and trading day: clean unadjusted bars plus close_hfq (back-adjusted,
-- = close * adj_factor, never changes when new data arrives). stg_daily_quote is this table plus
-- the forward-adjusted prices, which depend on each stock's latest factor and so are computed on
-- read (a view) instead of being rewritten for a stock's whole history at every ex-date.
-- Incremental: only the keys loaded since the last build (raw loaded_at) are re-staged; the
-- pre_hook first removes them, so a bar whose newest copy is quarantined disappears.
with clean as (
    -- the alias r is read by the incremental filter only
    select * from {{ ref('int_daily_quote__checked') }} as r  -- noqa: AL05
    where reason is null
    {%- if is_incremental() %}
      and {{ staging_key_touched(source('raw', 'daily_quote'), ['code', 'trade_date'], 'r') }}
    {%- endif %}
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
