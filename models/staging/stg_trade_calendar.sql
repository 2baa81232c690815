-- One row per SSE trading day, numbered so that "N trading days later" is a join, not a guess.
with calendar as (
    select cast(trade_date as date) as trade_date
    from {{ source('raw', 'trade_calendar') }}
    where is_open
    group by 1
)

select
    trade_date,
    row_number() over (order by trade_date) as day_seq
from calendar
