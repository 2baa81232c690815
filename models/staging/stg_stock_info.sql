-- One row per stock: board and ST status normalised, industry 'unknown' rather than null.
-- list_date: the exchange's listing date; when upstream has none (akshare leaves it empty for
-- some listed stocks) the stock's first stored bar stands in, documented in docs/sources.md.
-- Still null (no bars either) -> factor_scores treats the stock as not buy-eligible.
with info as (
    select
        *,
        row_number() over (partition by code order by loaded_at desc) as rn
    from {{ source('raw', 'stock_info') }}
),

first_bar as (
    select code, min(trade_date) as first_bar_date
    from {{ source('raw', 'daily_quote') }}
    group by code
)

select
    i.code,
    i.name,
    upper(i.exchange) as exchange,
    lower(i.board) as board,
    coalesce(i.industry_l1, 'unknown') as industry_l1,
    coalesce(i.industry_l2, i.industry_l1, 'unknown') as industry_l2,
    coalesce(cast(i.list_date as date), cast(fb.first_bar_date as date)) as list_date,
    cast(i.delist_date as date) as delist_date,
    coalesce(i.is_st, false) as is_st,
    i.total_shares,
    i.float_shares,
    i.source
from info as i
left join first_bar as fb on i.code = fb.code
where i.rn = 1
