{{ config(post_hook=["{{ pg_index(['code', 'trade_date']) }}", "{{ pg_index(['trade_date']) }}"]) }}
-- One row per stock and trading day: chip distribution summary (unadjusted CNY costs, fractions).
-- Upstream CYQ where the source has it; rows with source 'derived:cyq' or 'sample' come from the
-- same algorithm run over the stock's own turnover (extract/chips.py).
with chips as (
    select
        *,
        row_number() over (partition by code, trade_date order by loaded_at desc) as rn
    from {{ source('raw', 'chip_distribution') }}
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
    source
from chips
where rn = 1
  and avg_cost > 0
