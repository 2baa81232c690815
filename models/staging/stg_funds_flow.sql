{{ config(post_hook=["{{ pg_index(['code', 'trade_date']) }}", "{{ pg_index(['trade_date']) }}"]) }}
-- One row per stock and trading day: northbound holding (shares), margin and short balances
-- (CNY), main-force net inflow (CNY). Missing measures stay null (not every stock is eligible).
with flows as (
    select
        *,
        row_number() over (partition by code, trade_date order by loaded_at desc) as rn
    from {{ source('raw', 'funds_flow') }}
)

select
    code,
    cast(trade_date as date) as trade_date,
    north_hold_shares,
    margin_balance,
    short_balance,
    main_net_inflow,
    source
from flows
where rn = 1
