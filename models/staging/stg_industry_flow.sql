{{
    config(
        materialized='incremental',
        unique_key=['industry_l1', 'trade_date'],
        pre_hook="{{ staging_delete_touched(source('raw', 'industry_flow'), ['industry_l1', 'trade_date']) }}"
    )
}}
-- One row per industry board and trading day: main-force net inflow and turnover (CNY), in the
-- source's own taxonomy (akshare: Eastmoney boards). Optional; no model reads it (docs/sources.md).
-- Incremental: only the keys loaded since the last build (loaded_at) are re-staged.
with flows as (
    select
        *,
        row_number() over (partition by industry_l1, trade_date order by loaded_at desc) as rn
    -- the alias r is read by the incremental filter only
    from {{ source('raw', 'industry_flow') }} as r  -- noqa: AL05
    {%- if is_incremental() %}
    where {{ staging_key_touched(source('raw', 'industry_flow'), ['industry_l1', 'trade_date'], 'r') }}
    {%- endif %}
)

select
    industry_l1,
    cast(trade_date as date) as trade_date,
    net_inflow,
    amount,
    source,
    loaded_at
from flows
where rn = 1
