-- One row per stock: board and ST status normalised, industry 'unknown' rather than null.
-- name / is_st / industry_* are the CURRENT values: models read the state of each day from
-- stg_stock_state_periods (point-in-time), never these columns, for anything dated.
--
-- list_date: a source may leave it empty (akshare's list knows it only for delisted stocks). A
-- missing value never stops the build: it defaults to the start of the stock's first name period
-- (raw.stock_name_history: tushare's namechange starts with the listing name; list_date_source =
-- 'name_history'), else to its first bar in raw.daily_quote ('first_bar': it has traded since then
-- at least), and a warn-level test reports it. With no bar either it stays null (list_date_source = 'missing') and the stock is
-- simply not buy-eligible.
with info as (
    select
        *,
        row_number() over (partition by code order by loaded_at desc) as rn
    from {{ source('raw', 'stock_info') }}
),

latest as (
    select * from info where rn = 1
),

first_name as (
    select h.code, min(cast(h.start_date as date)) as first_name_date
    from {{ source('raw', 'stock_name_history') }} as h
    where h.code in (select l.code from latest as l where l.list_date is null)
    group by h.code
),

first_bar as (
    select q.code, min(cast(q.trade_date as date)) as first_trade_date
    from {{ source('raw', 'daily_quote') }} as q
    where q.code in (select l.code from latest as l where l.list_date is null)
    group by q.code
)

select
    i.code,
    i.name,
    upper(i.exchange) as exchange,
    lower(i.board) as board,
    coalesce(i.industry_l1, 'unknown') as industry_l1,
    coalesce(i.industry_l2, i.industry_l1, 'unknown') as industry_l2,
    coalesce(cast(i.list_date as date), h.first_name_date, b.first_trade_date) as list_date,
    case
        when i.list_date is not null then 'source'
        when h.first_name_date is not null then 'name_history'
        when b.first_trade_date is not null then 'first_bar'
        else 'missing'
    end as list_date_source,
    cast(i.delist_date as date) as delist_date,
    coalesce(i.is_st, false) as is_st,
    i.total_shares,
    i.float_shares,
    i.source
from latest as i
left join first_name as h on i.code = h.code
left join first_bar as b on i.code = b.code
