{#-
  The checks of raw.daily_quote; int_daily_quote__checked is this with touched_after=none (every raw
  row, the reasons documented there). With `touched_after` (SQL giving a loaded_at watermark), only
  the rows an incremental build must redo: for each stock with a raw row loaded after the watermark,
  its rows from the earliest such trade_date on (later bars too: a corrected bar changes the
  continuity verdict of the two after it). The windows then run over those rows and a short
  lookback (daily_quote_scope), not over all of raw: at full scale about 5,000 stocks x 20 rows
  instead of 11.8 M. Same verdicts as the view for those rows.
-#}
{% macro daily_quote_checked(touched_after=none) -%}
with
{%- if touched_after is not none %}
{{ daily_quote_scope(touched_after) }},
{%- endif %}

quotes as (
    select
        q.*,
        count(*) over (partition by q.code, q.trade_date) as key_count,
        row_number() over (partition by q.code, q.trade_date order by q.loaded_at desc) as key_rank
    {%- if touched_after is none %}
    from {{ source('raw', 'daily_quote') }} as q
    {%- elif target.type == 'postgres' %}
    from scope as s
    cross join lateral (
        select r.*, s.from_date as scope_from
        from {{ source('raw', 'daily_quote') }} as r
        where r.code = s.code and r.trade_date >= s.read_from
    ) as q
    {%- else %}
    from (
        select r.*, s.from_date as scope_from
        from {{ source('raw', 'daily_quote') }} as r
        inner join scope as s on s.code = r.code and r.trade_date >= s.read_from
    ) as q
    {%- endif %}
),

calendar as (
    select trade_date, day_seq from {{ ref('stg_trade_calendar') }}
),

-- Back-adjusted continuity of the latest copy of each bar with the bar before it, and the same
-- for the bar before (lags only: a bar is judged on what was known on its own day). Lags within
-- the usable copies (`usable`: the latest copy with positive close, pre_close and adj_factor), so
-- the bar before is the previous usable one: left_gap of a bar, and of the usable bar before it
-- (prev_left_gap), from one sort and no join (a join of two CTEs on code and date is what
-- PostgreSQL misestimates into nested loops).
usable as (
    select
        quotes.*,
        coalesce(
            key_rank = 1 and close > 0 and pre_close > 0 and adj_factor > 0, false
        ) as is_usable
    from quotes
),

continuity as (
    select
        usable.*,
        case when is_usable then
            pre_close * adj_factor
            / nullif(lag(close * adj_factor) over by_usable, 0) - 1
        end as left_gap,
        case when is_usable then
            lag(pre_close * adj_factor) over by_usable
            / nullif(lag(close * adj_factor, 2) over by_usable, 0) - 1
        end as prev_left_gap
    from usable
    window by_usable as (partition by code, is_usable order by trade_date)
),

-- First session on or after the listing date, and how many sessions are exempt. The board is
-- read from the code as qmt/rules.py board_of does (688/689 .SH STAR, 300/301 .SZ ChiNext,
-- .BJ BSE, else main board).
listing as (
    select
        i.code,
        min(c.day_seq) as list_seq,
        case
            when i.code like '688%.SH' or i.code like '689%.SH' then 5
            when (i.code like '300%.SZ' or i.code like '301%.SZ')
                and i.list_date >= cast('2020-08-24' as date) then 5
            when i.code like '%.BJ' then 1
            when i.code like '%.SH' or i.code like '%.SZ' then
                case when i.list_date >= cast('2023-04-10' as date) then 5 else 1 end
            else 1
        end as exempt_sessions
    from {{ ref('stg_stock_info') }} as i
    inner join calendar as c
        on c.trade_date >= i.list_date
        and c.trade_date <= {{ dbt.dateadd('day', 31, 'i.list_date') }}
    where i.list_date is not null
    group by i.code, i.list_date
)

select
    {%- for c in ['code', 'trade_date', 'open', 'high', 'low', 'close', 'pre_close', 'volume', 'amount',
                  'turnover_rate', 'adj_factor', 'pe_ttm', 'pb', 'total_mv', 'circ_mv', 'source',
                  'loaded_at', 'key_count', 'key_rank'] %}
    quotes.{{ c }},
    {%- endfor %}
    case
        when quotes.key_rank > 1 then 'duplicate key (older copy)'
        when quotes.open is null or quotes.high is null or quotes.low is null or quotes.close is null
            then 'missing price'
        when quotes.open <= 0 or quotes.high <= 0 or quotes.low <= 0 or quotes.close <= 0
            then 'non-positive price'
        when quotes.high < quotes.low then 'high < low'
        when quotes.open > quotes.high or quotes.open < quotes.low
            or quotes.close > quotes.high or quotes.close < quotes.low then 'open/close outside high-low'
        when quotes.volume < 0 or quotes.amount < 0 then 'negative volume or amount'
        when quotes.adj_factor is null or quotes.adj_factor <= 0 then 'missing or non-positive adj_factor'
        when calendar.trade_date is null then 'date off the trading calendar'
        when quotes.loaded_at < {{ dbt.dateadd('minute', var('quote_final_utc_minutes'),
                                               'cast(quotes.trade_date as timestamp)') }}
            then 'loaded before the day was final (intraday snapshot)'
        when abs(quotes.left_gap) > {{ var('quote_continuity_tolerance') }}
            and coalesce(abs(quotes.prev_left_gap), 0) <= {{ var('quote_continuity_tolerance') }}
            then 'breaks price continuity (a bar of another stock?)'
        when quotes.pre_close > 0
            and abs(quotes.close / quotes.pre_close - 1) > {{ var('quote_max_abs_return') }}
            and not coalesce(
                calendar.day_seq - listing.list_seq between 0 and listing.exempt_sessions - 1, false
            )
            then 'close too far from pre_close'
    end as reason
from continuity as quotes
left join calendar on quotes.trade_date = calendar.trade_date
left join listing on quotes.code = listing.code
{%- if touched_after is not none %}
where quotes.trade_date >= quotes.scope_from
{%- endif %}
{%- endmacro %}

{#-
  CTE `scope`: per stock touched after `touched_after`, from_date (its earliest touched trade_date)
  and read_from, the first raw row the windows must read so that the lags of the rows from
  from_date on are complete: the continuity check reads the two latest bars before a bar with a
  positive close, pre_close and adj_factor (latest copy). 30 calendar days back when that span
  holds two such bars (the normal case), else (a stock back from a long suspension, a new listing)
  the stock's whole history.
-#}
{% macro daily_quote_scope(touched_after) -%}
touched as (
    select code, min(trade_date) as from_date
    from {{ source('raw', 'daily_quote') }}
    where loaded_at > {{ touched_after }}
    group by code
),

lookback as (
    select
        q.code,
        q.trade_date,
        q.close,
        q.pre_close,
        q.adj_factor,
        row_number() over (partition by q.code, q.trade_date order by q.loaded_at desc) as key_rank
    {%- if target.type == 'postgres' %}
    from touched as t
    cross join lateral (
        select r.code, r.trade_date, r.close, r.pre_close, r.adj_factor, r.loaded_at
        from {{ source('raw', 'daily_quote') }} as r
        where r.code = t.code
          and r.trade_date < t.from_date
          and r.trade_date >= {{ dbt.dateadd('day', -30, 't.from_date') }}
    ) as q
    {%- else %}
    from {{ source('raw', 'daily_quote') }} as q
    inner join touched as t on q.code = t.code
    where q.trade_date < t.from_date
      and q.trade_date >= {{ dbt.dateadd('day', -30, 't.from_date') }}
    {%- endif %}
),

lookback_ok as (
    select code
    from lookback
    where key_rank = 1 and close > 0 and pre_close > 0 and adj_factor > 0
    group by code
    having count(*) >= 2
),

scope as (
    select
        t.code,
        t.from_date,
        case
            when o.code is not null then {{ dbt.dateadd('day', -30, 't.from_date') }}
            else cast('1900-01-01' as date)
        end as read_from
    from touched as t
    left join lookback_ok as o on t.code = o.code
)
{%- endmacro %}

{#- pre_hook: delete what daily_quote_checked(touched_after) will redo (a stock's rows from its
    earliest touched day on), so a bar that is now quarantined (or clean) leaves the other table.
    `date_col` names the trade date in {{ this }}; `where` narrows the rows (SQL, optional). -#}
{% macro daily_quote_delete_redone(touched_after, date_col='trade_date', where=none) -%}
    {%- if is_incremental() and target.type == 'postgres' -%}
    {#- the same rows through the (code, trade_date) index: each touched stock's rows from its
        earliest touched day on -#}
    delete from {{ this }} as t
    using (
        select code, min(trade_date) as from_date
        from {{ source('raw', 'daily_quote') }}
        where loaded_at > {{ touched_after }}
        group by code
    ) as n
    where n.code = t.code
      and t.{{ date_col }} >= n.from_date
    {%- if where %} and ({{ where }}){% endif %}
    {%- elif is_incremental() -%}
    delete from {{ this }} as t
    where exists (
        select 1
        from {{ source('raw', 'daily_quote') }} as n
        where n.loaded_at > {{ touched_after }}
          and n.code = t.code
          and n.trade_date <= t.{{ date_col }}
    )
    {%- if where %} and ({{ where }}){% endif %}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

