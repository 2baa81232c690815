-- One row per order intent for QMT: the offense buy and sell signals of the latest trading day,
-- with the weight to buy (the rotation target when the stock is in the latest targets, else the
-- per-stock cap) and the reference, take-profit and stop-loss prices (unadjusted CNY).
with latest as (
    select max(trade_date) as trade_date from {{ ref('factor_scores') }}
),

latest_targets as (
    select t.code, t.target_weight
    from {{ ref('portfolio_targets') }} as t
    where t.rebalance_date = (select max(p.rebalance_date) from {{ ref('portfolio_targets') }} as p)
)

select
    s.signal_id,
    s.trade_date,
    s.code,
    s.kind as side,
    case
        when s.kind = 'buy' then coalesce(lt.target_weight, {{ var('max_weight_stock') }})
        else 0
    end as target_weight,
    s.close as ref_price,
    s.take_profit,
    s.stop_loss,
    s.priority,
    s.rule,
    s.reason
from {{ ref('signals') }} as s
inner join latest on s.trade_date = latest.trade_date
left join latest_targets as lt on s.code = lt.code
where s.layer = 'offense'
    and s.kind in ('buy', 'sell')
