-- depends_on: {{ ref('stg_daily_quote') }}  (reads stg_daily_quote_base, the table under that view: no *_qfq needed; the ref keeps the view in every +model selection)
{#- every knob the rules below read: a build with other values starts the table over (pre_hook) -#}
{%- set knobs = [] %}
{%- for k in ['buy_threshold', 'high_priority_margin', 'exit_threshold', 'exit_days', 'max_hold_days',
              'stop_mode', 'take_profit_pct', 'stop_loss_pct', 'atr_window', 'take_profit_atr', 'stop_loss_atr'] %}
{%- do knobs.append(k ~ '=' ~ var(k)) %}
{%- endfor %}
{%- set rule_params = knobs | join('|') %}
{{
    config(
        materialized='incremental',
        unique_key=['signal_id'],
        pre_hook="{% if is_incremental() %}delete from {{ this }} where rule_params <> '" ~ rule_params ~ "'{% else %}select 1{% endif %}"
    )
}}
-- One row per offense-layer signal: buys and the sells that close them. The public face is
-- `signals` (layer 'offense'); this is the internal step that makes them, read in five blocks:
--   1. inputs      (restart points of an incremental run, the day's bars with their windows)
--   2. candidates  (bars where the composite crosses buy_threshold from below)
--   3. exits       (each candidate's first exit bar and its rule)
--   4. chain       (the non-overlapping trades actually taken, one after another per stock)
--   5. reasons     (buy and sell rows with their ids, priorities and readable reasons)
--
-- Buy   on the first bar a buy-eligible stock's composite reaches `buy_threshold` (from below), unless
--       an earlier buy in that stock is still open. take_profit / stop_loss from the close:
--       'pct' mode close x (1 + take_profit_pct) / (1 - stop_loss_pct); 'atr' mode close +/- k x ATR.
--       priority 1 when composite >= threshold + high_priority_margin, 2 when >= half that margin, else 3.
-- Sell  on the first later bar where, in this order: the close is at or below the stop (stop_loss),
--       at or above the target (take_profit), the composite stayed below `exit_threshold` for
--       `exit_days` bars (score_decay), or `max_hold_days` bars have passed (time_exit).
--       Stop and target are compared on the point-in-time adjusted basis, as the strategy re-bases
--       its standing stops on ex-dates: close(t) x adj_factor(t) against level x adj_factor(buy day).
--       The back-adjusted close (close x adj_factor) of a past day never changes, so a bonus issue
--       or dividend gap (10送3: the close drops ~23 %) neither fires a false stop nor hides a target.
--       The take_profit / stop_loss columns stay in the buy day's unadjusted prices (the contract).
-- Each row carries the scores that produced it; a sell names its buy in entry_signal_id.
--
-- Incremental (delete+insert on signal_id): a stock's chain is only redone from its open trade's
-- buy (a buy without a sell yet), else from its first bar after the latest signal day; earlier
-- trades are closed and nothing before that bar can change (any candidate after a closed trade's
-- exit would have been accepted). The windows (lag, exit_days, ATR) re-read `lookback` bars before.
-- A rebuilt history upstream (factor_scores changed on old days) needs `--full-refresh`.
-- rule_params holds the knob values the rows were made with; a build with other values deletes the
-- rows first (pre_hook), so the chain is redone over all history, as a full refresh would.
{%- set thr = var('buy_threshold') %}
{%- set margin = var('high_priority_margin') %}
{%- set lookback = [var('exit_days'), var('atr_window'), 1] | max %}

with recursive

-- ---- 1. inputs ------------------------------------------------------------------------------
{%- if is_incremental() %}
open_buys as (
    select b.code, min(b.trade_date) as open_from
    from {{ this }} as b
    where b.kind = 'buy'
      and not exists (select 1 from {{ this }} as x where x.kind = 'sell' and x.entry_signal_id = b.signal_id)
    group by b.code
),

{%- if target.type == 'postgres' %}
-- PostgreSQL: the same restart as a date (bar_seq rises with trade_date within a stock): the
-- earlier of the open buy and the first day after the latest signal day; the stocks are those with
-- a new day or an open buy. `daily` then reads each stock's bars from that date, and the
-- `lookback` bars before it, through the (code, trade_date) indexes (the bar-number form scanned
-- every factor_scores row twice: 35 s of a one-day build at 5,000 x 10 years, bench/RESULTS.md).
restart_days as (
    select
        k.code,
        case
            when o.open_from is null then k.after_day
            else least(o.open_from, k.after_day)
        end as restart_from
    from (
        select n.code, {{ dbt.dateadd('day', 1, incremental_last_day()) }} as after_day
        from {{ ref('factor_scores') }} as n
        where n.trade_date > {{ incremental_last_day() }}
        group by n.code
        union
        select b.code, {{ dbt.dateadd('day', 1, incremental_last_day()) }} as after_day
        from open_buys as b
    ) as k
    left join open_buys as o on o.code = k.code
),

-- and the first bar to read: `lookback` bars before the restart (its windows' history)
restart as (
    select
        d.code,
        d.restart_from,
        coalesce((
            select min(p.trade_date)
            from (
                select f.trade_date
                from {{ ref('factor_scores') }} as f
                where f.code = d.code and f.trade_date < d.restart_from
                order by f.trade_date desc
                limit {{ lookback }}
            ) as p
        ), d.restart_from) as read_from
    from restart_days as d
),
{%- else %}
restart as (
    select s.code, min(s.bar_seq) as restart_seq
    from {{ ref('factor_scores') }} as s
    left join open_buys as o on o.code = s.code
    where s.trade_date > {{ incremental_last_day() }}
       or s.trade_date >= o.open_from
    group by s.code
),
{%- endif %}
{%- endif %}

daily as (
    select
        s.code,
        s.trade_date,
        s.bar_seq,
        s.close,
        s.industry_l1,
        s.industry_score,
        s.valuation_score,
        s.technical_score,
        s.chip_score,
        s.composite_score,
        s.buy_eligible,
        q.adj_factor,
        s.close * q.adj_factor as close_adj,
        lag(s.composite_score) over w as prev_composite,
        sum(case when s.composite_score < {{ var('exit_threshold') }} then 1 else 0 end) over (
            partition by s.code order by s.trade_date
            rows between {{ var('exit_days') - 1 }} preceding and current row
        ) = {{ var('exit_days') }} as score_exit,
        avg(
            greatest(q.high - q.low, abs(q.high - q.pre_close), abs(q.low - q.pre_close))
        ) over (
            partition by s.code order by s.trade_date
            rows between {{ var('atr_window') - 1 }} preceding and current row
        ) as atr,
        {%- if is_incremental() and target.type == 'postgres' %}
        s.trade_date >= r.restart_from as in_redo
        {%- elif is_incremental() %}
        s.bar_seq >= r.restart_seq as in_redo
        {%- else %}
        true as in_redo
        {%- endif %}
    {%- if is_incremental() and target.type == 'postgres' %}
    -- a lateral kept as such by `offset 0`: per stock its bars and quotes from read_from, each an
    -- index range (flattened into joins, PostgreSQL hashed every bar of each stock, or probed
    -- the quotes one bar at a time: 9 s and 2.3 s of 10 and 3.4 s at 1,500 x 5 years)
    from restart as r
    cross join lateral (
        select
            f.*,
            q1.adj_factor as q_adj_factor,
            q1.high as q_high,
            q1.low as q_low,
            q1.pre_close as q_pre_close
        from {{ ref('factor_scores') }} as f
        inner join {{ ref('stg_daily_quote_base') }} as q1
            on q1.code = f.code and q1.trade_date = f.trade_date
        where f.code = r.code and f.trade_date >= r.read_from
          and q1.code = r.code and q1.trade_date >= r.read_from
        offset 0
    ) as s
    cross join lateral (
        select s.q_adj_factor as adj_factor, s.q_high as high, s.q_low as low, s.q_pre_close as pre_close
    ) as q
    {%- else %}
    from {{ ref('factor_scores') }} as s
    inner join {{ ref('stg_daily_quote_base') }} as q on s.code = q.code and s.trade_date = q.trade_date
    {%- if is_incremental() %}
    inner join restart as r on r.code = s.code and s.bar_seq >= r.restart_seq - {{ lookback }}
    {%- endif %}
    {%- endif %}
    window w as (partition by s.code order by s.trade_date)
),

-- ---- 2. candidates: a buy-eligible bar whose composite reaches the threshold from below -------
candidates as (
    select
        code,
        trade_date as entry_date,
        bar_seq as entry_seq,
        close,
        industry_l1,
        industry_score,
        valuation_score,
        technical_score,
        chip_score,
        composite_score,
        adj_factor as entry_adj_factor,
        {%- if var('stop_mode') == 'atr' %}
        close + {{ var('take_profit_atr') }} * atr as take_profit,
        greatest(close - {{ var('stop_loss_atr') }} * atr, 0.01) as stop_loss
        {%- else %}
        close * (1 + {{ var('take_profit_pct') }}) as take_profit,
        close * (1 - {{ var('stop_loss_pct') }}) as stop_loss
        {%- endif %}
    from daily
    where buy_eligible
        and in_redo
        and composite_score >= {{ thr }}
        and (prev_composite < {{ thr }} or prev_composite is null)
),

-- ---- 3. exits: every bar that would close a candidate, the first one wins (hit_rank 1) --------
exit_hits as (
    select
        c.code,
        c.entry_seq,
        d.bar_seq,
        d.trade_date,
        d.close,
        d.composite_score,
        case
            when d.close_adj <= c.stop_loss * c.entry_adj_factor then 'stop_loss'
            when d.close_adj >= c.take_profit * c.entry_adj_factor then 'take_profit'
            when d.score_exit then 'score_decay'
            else 'time_exit'
        end as exit_rule,
        row_number() over (partition by c.code, c.entry_seq order by d.bar_seq) as hit_rank
    from candidates as c
    {{ offense_hold_join('c', 'daily', 'd', var('max_hold_days')) }}
    where d.close_adj <= c.stop_loss * c.entry_adj_factor
        or d.close_adj >= c.take_profit * c.entry_adj_factor
        or d.score_exit
        or d.bar_seq = c.entry_seq + {{ var('max_hold_days') }}
),

trades as (
    {{- offense_trades('candidates', 'exit_hits') }}
),

-- ---- 4. chain ------------------------------------------------------------------------------
-- Follow each stock's chain of non-overlapping trades: first candidate, then the first candidate
-- after that trade's exit, and so on. Candidates inside an open trade are dropped.
chain (code, entry_seq, next_entry_seq) as (
    {{- offense_chain('trades', 'candidates') }}
),

accepted as (
    select t.*
    from trades as t
    inner join chain as ch
        on t.code = ch.code
        and t.entry_seq = ch.entry_seq
),

-- ---- 5. reasons: one buy row per accepted trade, one sell row per closed one -----------------
buys as (
    select
        {{ dbt.hash(dbt.concat(["'offense|buy|'", 'code', "'|'", dbt.cast('entry_date', dbt.type_string())])) }}
            as signal_id,
        entry_date as trade_date,
        code,
        'offense' as layer,
        'buy' as kind,
        'composite_buy' as rule,
        composite_score,
        industry_score,
        valuation_score,
        technical_score,
        chip_score,
        close,
        take_profit,
        stop_loss,
        case
            when composite_score >= {{ thr + margin }} then 1
            when composite_score >= {{ thr + margin / 2 }} then 2
            else 3
        end as priority,
        {{ dbt.concat([
            "'composite '", fmt_num('composite_score'), "' >= " ~ thr ~ " (industry '", fmt_num('industry_score'),
            "', valuation '", fmt_num('valuation_score'), "', technical '", fmt_num('technical_score'),
            "', chip '", fmt_num('chip_score'), "'); take-profit '", fmt_num('take_profit'),
            "', stop-loss '", fmt_num('stop_loss')
        ]) }} as reason,
        industry_l1,
        cast(null as {{ dbt.type_string() }}) as entry_signal_id,
        cast('{{ rule_params }}' as {{ dbt.type_string() }}) as rule_params
    from accepted
),

sells as (
    select
        {{ dbt.hash(dbt.concat(["'offense|sell|'", 'code', "'|'", dbt.cast('exit_date', dbt.type_string()),
                                "'|'", dbt.cast('entry_date', dbt.type_string())])) }} as signal_id,
        exit_date as trade_date,
        code,
        'offense' as layer,
        'sell' as kind,
        exit_rule as rule,
        exit_composite as composite_score,
        cast(null as {{ type_double() }}) as industry_score,
        cast(null as {{ type_double() }}) as valuation_score,
        cast(null as {{ type_double() }}) as technical_score,
        cast(null as {{ type_double() }}) as chip_score,
        exit_close as close,
        take_profit,
        stop_loss,
        case when exit_rule = 'stop_loss' then 1 else 2 end as priority,
        {{ dbt.concat([
            'exit_rule', "': close '", fmt_num('exit_close'), "', composite '", fmt_num('exit_composite'),
            "', stop '", fmt_num('stop_loss'), "', target '", fmt_num('take_profit'),
            "', bought '", dbt.cast('entry_date', dbt.type_string()), "' at '", fmt_num('close')
        ]) }} as reason,
        industry_l1,
        {{ dbt.hash(dbt.concat(["'offense|buy|'", 'code', "'|'", dbt.cast('entry_date', dbt.type_string())])) }}
            as entry_signal_id,
        cast('{{ rule_params }}' as {{ dbt.type_string() }}) as rule_params
    from accepted
    where exit_date is not null
)

select * from buys
union all
select * from sells
