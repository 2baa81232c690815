-- Name / ST periods with closed validity ranges [valid_from, valid_to] (both inclusive).
-- valid_to = the day before the stock's next start_date, else 9999-12-31: the latest row stays valid
-- (no gaps; when rows overlap the later start_date wins). The source's end_date is kept as published.
-- is_st: the source's flag, else the risk-warning prefix of the name (ST, *ST, S*ST, SST).
with hist as (
    select
        *,
        row_number() over (partition by code, start_date order by loaded_at desc) as rn
    from {{ source('raw', 'stock_name_history') }}
    where start_date is not null
),

latest as (
    select
        code,
        cast(start_date as date) as valid_from,
        cast(end_date as date) as end_date,
        name,
        coalesce(
            is_st,
            upper(name) like 'ST%' or upper(name) like '*ST%' or upper(name) like 'S*ST%'
            or upper(name) like 'SST%',
            false
        ) as is_st,
        lead(cast(start_date as date)) over (partition by code order by start_date) as next_start
    from hist
    where rn = 1
)

select
    code,
    valid_from,
    {{ valid_to('next_start') }} as valid_to,
    end_date,
    name,
    is_st,
    row_number() over (partition by code order by valid_from) as seq
from latest
