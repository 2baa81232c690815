-- Industry periods of the taxonomy the models use (var industry_taxonomy, Shenwan 2021 level 1/2),
-- with closed validity ranges [valid_from, valid_to] built as in stg_stock_name_history.
with hist as (
    select
        *,
        row_number() over (partition by code, start_date order by loaded_at desc) as rn
    from {{ source('raw', 'stock_industry_history') }}
    where start_date is not null
        and taxonomy = '{{ var("industry_taxonomy") }}'
),

latest as (
    select
        code,
        cast(start_date as date) as valid_from,
        cast(end_date as date) as end_date,
        coalesce(industry_l1, 'unknown') as industry_l1,
        coalesce(industry_l2, industry_l1, 'unknown') as industry_l2,
        lead(cast(start_date as date)) over (partition by code order by start_date) as next_start
    from hist
    where rn = 1
)

select
    code,
    valid_from,
    {{ valid_to('next_start') }} as valid_to,
    end_date,
    industry_l1,
    industry_l2,
    row_number() over (partition by code order by valid_from) as seq
from latest
