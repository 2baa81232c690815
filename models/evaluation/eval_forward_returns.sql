{{
    config(
        materialized='incremental',
        unique_key=['code', 'trade_date', 'horizon']
    )
}}
-- depends_on: {{ ref('stg_trade_calendar') }}
-- One row per stock, trading day t and horizon h (var eval_horizons): the back-adjusted
-- close-to-close return from t to the session h trading days later. THE FUTURE: only the evaluation
-- layer may read this model (tests/test_evaluation_lineage.py).
--
--   fwd_return = close_hfq(exit bar) / close_hfq(t) - 1
--   exit session = the exchange session h trading days after t (stg_trade_calendar, not the
--   stock's own bars); exit bar = the stock's bar on that session, or, when it has none there
--   (suspended or delisted), its latest bar before it: a holder cannot sell a suspended stock and
--   carries it at its last close, so the return is the mark-to-market one (exit_suspended = true).
--   close_hfq = close x adj_factor (back-adjusted), so dividends and splits are in the return.
-- A row exists once session t + h is loaded (some stock has a bar on it), never before.
with calendar as (
    select trade_date, day_seq from {{ ref('stg_trade_calendar') }}
),

-- Incremental: every bar read (entry, exit, the last bar before an exit) is on or after the first
-- entry recomputed, so only those are read (not all 11.8 M bars at full scale).
bars as (
    select q.code, q.trade_date, q.close_hfq, c.day_seq
    from {{ ref('stg_daily_quote_base') }} as q
    inner join calendar as c on q.trade_date = c.trade_date
    {%- if is_incremental() %}
    where q.trade_date >= {{ eval_recompute_from() }}
    {%- endif %}
),

loaded as (
    select max(day_seq) as last_seq from bars
),

horizons as (
    {{ eval_horizon_rows() }}
),

entries as (
    select b.code, b.trade_date, b.day_seq, b.close_hfq, h.horizon, b.day_seq + h.horizon as exit_seq
    from bars as b
    cross join horizons as h
    where b.day_seq + h.horizon <= (select l.last_seq from loaded as l)
    {%- if is_incremental() %}
      and b.trade_date >= {{ eval_recompute_from() }}
    {%- endif %}
),

with_exit_bar as (
    select e.*, x.trade_date as exit_bar_date, x.close_hfq as exit_close_hfq
    from entries as e
    left join bars as x on e.code = x.code and e.exit_seq = x.day_seq
),

-- the common case: the stock trades on the exit session
exact as (
    select * from with_exit_bar where exit_bar_date is not null
),

-- no bar on the exit session: its latest bar after t and before the exit (else t's own close)
missing as (
    select code, trade_date, day_seq, close_hfq, horizon, exit_seq
    from with_exit_bar
    where exit_bar_date is null
),

last_bar_before_exit as (
    select m.code, m.trade_date, m.horizon, max(x.day_seq) as bar_seq
    from missing as m
    inner join bars as x on m.code = x.code and x.day_seq >= m.day_seq and x.day_seq < m.exit_seq
    group by m.code, m.trade_date, m.horizon
),

carried as (
    select m.*, x.trade_date as exit_bar_date, x.close_hfq as exit_close_hfq
    from missing as m
    inner join last_bar_before_exit as l
        on m.code = l.code and m.trade_date = l.trade_date and m.horizon = l.horizon
    inner join bars as x on l.code = x.code and l.bar_seq = x.day_seq
),

both_cases as (
    select *, false as exit_suspended from exact
    union all
    select *, true as exit_suspended from carried
)

select
    b.code,
    b.trade_date,
    b.horizon,
    c.trade_date as exit_date,
    b.exit_bar_date,
    b.exit_suspended,
    b.close_hfq as entry_close_hfq,
    b.exit_close_hfq,
    b.exit_close_hfq / b.close_hfq - 1 as fwd_return
from both_cases as b
inner join calendar as c on b.exit_seq = c.day_seq
