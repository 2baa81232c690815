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
--
-- Both cases are one rule: the exit bar is the stock's latest bar in sessions [t, t + h]. A window
-- over each stock's bars ordered by session number with the frame `range between current row and
-- h following` ends on exactly that bar, so last_value() reads it: one sort of the bars for every
-- horizon, instead of a join per horizon plus a band join of each suspended exit with all the
-- stock's bars (that band join cost most of this model's 198 s at 5,000 stocks x 10 years).
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

exits as (
    select
        code,
        trade_date,
        day_seq,
        close_hfq
        {%- for h in var('eval_horizons') %},
        last_value(day_seq) over (
            partition by code order by day_seq range between current row and {{ h }} following
        ) as exit_seq_{{ h }},
        last_value(trade_date) over (
            partition by code order by day_seq range between current row and {{ h }} following
        ) as exit_bar_date_{{ h }},
        last_value(close_hfq) over (
            partition by code order by day_seq range between current row and {{ h }} following
        ) as exit_close_hfq_{{ h }}
        {%- endfor %}
    from bars
),

both_cases as (
    {%- for h in var('eval_horizons') %}
    select
        code,
        trade_date,
        {{ h }} as horizon,
        day_seq + {{ h }} as exit_seq,
        exit_bar_date_{{ h }} as exit_bar_date,
        exit_seq_{{ h }} < day_seq + {{ h }} as exit_suspended,
        close_hfq,
        exit_close_hfq_{{ h }} as exit_close_hfq
    from exits
    where day_seq + {{ h }} <= (select l.last_seq from loaded as l)
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
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
