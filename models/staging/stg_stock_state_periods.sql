-- Point-in-time reference state: one row per stock and validity period [valid_from, valid_to]
-- (both inclusive, gap-free from 1900-01-01 to 9999-12-31) in which name, ST flag and industry are
-- constant. Every dated model, rule and the broker read a day's state from here:
--     join stg_stock_state_periods as s on s.code = q.code
--         and q.trade_date between s.valid_from and s.valid_to
-- Before a stock's first history row its earliest known row applies (never today's value: that
-- was the look-ahead); a stock with no history at all keeps raw.stock_info's current values.
-- board, list_date and delist_date do not change over time (from stg_stock_info); is_listed says
-- whether the period lies inside [list_date, delist_date).
-- A small table (stocks x changes): rebuilt in full on every run, so late history is picked up.
with info as (
    select * from {{ ref('stg_stock_info') }}
),

names as (
    select * from {{ ref('stg_stock_name_history') }}
),

industries as (
    select * from {{ ref('stg_stock_industry_history') }}
),

bounds as (
    select code, cast('1900-01-01' as date) as valid_from from info
    union
    select code, valid_from from names where valid_from > cast('1900-01-01' as date)
    union
    select code, valid_from from industries where valid_from > cast('1900-01-01' as date)
    union
    select code, list_date as valid_from from info where list_date is not null
    union
    select code, delist_date as valid_from from info where delist_date is not null
),

segments as (
    select
        b.code,
        b.valid_from,
        coalesce(
            cast({{ dbt.dateadd('day', -1, 'lead(b.valid_from) over (partition by b.code order by b.valid_from)') }} as date),
            cast('9999-12-31' as date)
        ) as valid_to
    from bounds as b
    inner join info as i on b.code = i.code
)

select
    s.code,
    s.valid_from,
    s.valid_to,
    coalesce(n.name, n1.name, i.name) as name,
    coalesce(n.is_st, n1.is_st, i.is_st) as is_st,
    coalesce(ind.industry_l1, ind1.industry_l1, i.industry_l1) as industry_l1,
    coalesce(ind.industry_l2, ind1.industry_l2, i.industry_l2) as industry_l2,
    i.board,
    i.list_date,
    i.delist_date,
    coalesce(
        s.valid_from >= i.list_date and (i.delist_date is null or s.valid_from < i.delist_date),
        false
    ) as is_listed
from segments as s
inner join info as i on s.code = i.code
left join names as n
    on n.code = s.code and s.valid_from between n.valid_from and n.valid_to
left join names as n1
    on n1.code = s.code and n1.seq = 1
left join industries as ind
    on ind.code = s.code and s.valid_from between ind.valid_from and ind.valid_to
left join industries as ind1
    on ind1.code = s.code and ind1.seq = 1
