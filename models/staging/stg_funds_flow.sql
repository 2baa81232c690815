{{
    config(
        materialized='incremental',
        pre_hook="{{ staging_delete_touched(source('raw', 'funds_flow'), ['code', 'trade_date']) }}",
        post_hook=["{{ pg_index(['loaded_at']) }}"]
    )
}}
-- One row per stock and trading day: northbound holding (shares), margin and short balances
-- (CNY), main-force net inflow (CNY). Missing measures stay null (not every stock is eligible).
-- Availability: margin/short/northbound values of day D are published the next morning; the factors
-- use them only from the next session on (var avail_lag_margin_north, docs/sources.md).
-- Incremental: only the keys loaded since the last build (loaded_at) are re-staged.
with flows as (
    select
        *,
        row_number() over (partition by code, trade_date order by loaded_at desc) as rn
    -- the alias r is read by the incremental filter only
    from {{ source('raw', 'funds_flow') }} as r  -- noqa: AL05
    -- stocks only: margin lists carry ETFs (counted in quarantine, not staged)
    where {{ is_stock_code('r.code') }}
    {%- if is_incremental() %}
      and {{ staging_key_touched(source('raw', 'funds_flow'), ['code', 'trade_date'], 'r') }}
    {%- endif %}
)

select
    code,
    cast(trade_date as date) as trade_date,
    north_hold_shares,
    margin_balance,
    short_balance,
    main_net_inflow,
    source,
    loaded_at
from flows
where rn = 1
