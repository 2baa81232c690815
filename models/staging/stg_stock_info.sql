-- One row per stock: board and ST status normalised, industry 'unknown' rather than null.
with info as (
    select
        *,
        row_number() over (partition by code order by loaded_at desc) as rn
    from {{ source('raw', 'stock_info') }}
)

select
    code,
    name,
    upper(exchange) as exchange,
    lower(board) as board,
    coalesce(industry_l1, 'unknown') as industry_l1,
    coalesce(industry_l2, industry_l1, 'unknown') as industry_l2,
    cast(list_date as date) as list_date,
    cast(delist_date as date) as delist_date,
    coalesce(is_st, false) as is_st,
    total_shares,
    float_shares,
    source
from info
where rn = 1
