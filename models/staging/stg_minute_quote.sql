-- One row per stock and minute bar (ts in UTC); unadjusted prices.
with bars as (
    select
        *,
        row_number() over (partition by code, ts order by loaded_at desc) as rn
    from {{ source('raw', 'minute_quote') }}
)

select
    code,
    cast(ts as timestamp) as ts,
    open,
    high,
    low,
    close,
    volume,
    amount,
    source
from bars
where rn = 1
  and open > 0 and high >= low and volume >= 0
