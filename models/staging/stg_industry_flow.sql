-- One row per Shenwan level-1 industry and trading day: main-force net inflow and turnover (CNY).
with flows as (
    select
        *,
        row_number() over (partition by industry_l1, trade_date order by loaded_at desc) as rn
    from {{ source('raw', 'industry_flow') }}
)

select
    industry_l1,
    cast(trade_date as date) as trade_date,
    net_inflow,
    amount,
    source
from flows
where rn = 1
