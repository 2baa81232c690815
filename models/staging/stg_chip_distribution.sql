{{
    config(
        materialized='incremental',
        pre_hook="{{ staging_delete_touched(source('raw', 'chip_distribution'), ['code', 'trade_date']) }}",
        post_hook=["{{ pg_index(['loaded_at']) }}"]
    )
}}
-- One row per stock and trading day: chip distribution summary (unadjusted CNY costs, fractions).
-- Upstream CYQ where the source has it; rows with source 'derived:cyq' or 'sample' come from the
-- same algorithm run over the stock's own turnover (extract/chips.py).
-- Incremental: only the keys loaded since the last build (loaded_at) are re-staged; the pre_hook
-- first removes them, so a key whose newest copy fails `avg_cost > 0` disappears.
with chips as (
    select
        *,
        row_number() over (partition by code, trade_date order by loaded_at desc) as rn
    -- the alias r is read by the incremental filter only
    from {{ source('raw', 'chip_distribution') }} as r  -- noqa: AL05
    {%- if is_incremental() %}
    where {{ staging_key_touched(source('raw', 'chip_distribution'), ['code', 'trade_date'], 'r') }}
    {%- endif %}
)

select
    code,
    cast(trade_date as date) as trade_date,
    profit_ratio,
    avg_cost,
    cost_90_low,
    cost_90_high,
    concentration_90,
    cost_70_low,
    cost_70_high,
    concentration_70,
    source,
    loaded_at
from chips
where rn = 1
  and avg_cost > 0
