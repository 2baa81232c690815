{{ config(post_hook=["{{ pg_index(['code', 'trade_date']) }}", "{{ pg_index(['trade_date']) }}"]) }}
-- One row per stock and trading day: clean unadjusted bars plus derived adjusted prices.
-- close_hfq (back-adjusted, = close * adj_factor) never changes when new data arrives, so it is
-- what point-in-time factors use; close_qfq (forward-adjusted to the latest factor) is for charts.
with clean as (
    select * from {{ ref('chk_daily_quote') }}
    where reason is null
),

latest as (
    select code, adj_factor as latest_adj_factor
    from (
        select code, adj_factor, row_number() over (partition by code order by trade_date desc) as rn
        from clean
    ) as ranked
    where rn = 1
)

select
    clean.code,
    clean.trade_date,
    clean.open,
    clean.high,
    clean.low,
    clean.close,
    clean.pre_close,
    clean.volume,
    clean.amount,
    clean.turnover_rate,
    clean.adj_factor,
    clean.close * clean.adj_factor as close_hfq,
    clean.open * clean.adj_factor / latest.latest_adj_factor as open_qfq,
    clean.high * clean.adj_factor / latest.latest_adj_factor as high_qfq,
    clean.low * clean.adj_factor / latest.latest_adj_factor as low_qfq,
    clean.close * clean.adj_factor / latest.latest_adj_factor as close_qfq,
    clean.pe_ttm,
    clean.pb,
    clean.total_mv,
    clean.circ_mv,
    clean.source
from clean
inner join latest on clean.code = latest.code
