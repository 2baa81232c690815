{{ config(materialized="view") }}
-- One row per stock and trading day: clean unadjusted bars plus derived adjusted prices.
-- close_hfq (back-adjusted, = close * adj_factor) never changes when new data arrives, so it is
-- what point-in-time factors use; close_qfq (forward-adjusted to the latest factor) is for charts.
-- A view over the incremental table stg_daily_quote_base: the *_qfq columns are computed on read,
-- so a new ex-date changes them for the stock's whole history without rewriting any table.
with latest as (
    select code, max(trade_date) as latest_date
    from {{ ref('stg_daily_quote_base') }}
    group by code
),

latest_factor as (
    select b.code, b.adj_factor as latest_adj_factor
    from {{ ref('stg_daily_quote_base') }} as b
    inner join latest on b.code = latest.code and b.trade_date = latest.latest_date
)

select
    b.code,
    b.trade_date,
    b.open,
    b.high,
    b.low,
    b.close,
    b.pre_close,
    b.volume,
    b.amount,
    b.turnover_rate,
    b.adj_factor,
    b.close_hfq,
    b.open * b.adj_factor / l.latest_adj_factor as open_qfq,
    b.high * b.adj_factor / l.latest_adj_factor as high_qfq,
    b.low * b.adj_factor / l.latest_adj_factor as low_qfq,
    b.close * b.adj_factor / l.latest_adj_factor as close_qfq,
    b.pe_ttm,
    b.pb,
    b.total_mv,
    b.circ_mv,
    b.source
from {{ ref('stg_daily_quote_base') }} as b
inner join latest_factor as l on b.code = l.code
