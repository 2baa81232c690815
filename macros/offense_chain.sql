{#-
  signal_offense: each stock's chain of non-overlapping trades, from `trades` (code, entry_seq,
  next_entry_seq = the first candidate after that trade's exit) and `candidates`. The chain starts
  at the stock's first candidate and jumps to next_entry_seq until there is none.
  Returns the body of a CTE with columns (code, entry_seq, next_entry_seq).

  DuckDB/PostgreSQL: a recursive CTE, one level per accepted trade.
  Spark: a recursive CTE re-runs the whole plan of `trades` at every level (measured: 250 s for
  4 sample stocks), so it walks each stock's trades in one pass instead: trades sorted by
  entry_seq, a trade is accepted when it is the one the previous accepted trade points to (the
  `aggregate` higher-order function). Same rows: the chain only ever moves forward.
-#}
{% macro offense_chain(trades, candidates) %}
    {{ return(adapter.dispatch('offense_chain')(trades, candidates)) }}
{% endmacro %}

{% macro default__offense_chain(trades, candidates) %}
    select t.code, t.entry_seq, t.next_entry_seq
    from {{ trades }} as t
    inner join (select code, min(entry_seq) as first_seq from {{ candidates }} group by code) as f
        on t.code = f.code
        and t.entry_seq = f.first_seq
    union all
    select t.code, t.entry_seq, t.next_entry_seq
    from chain as ch
    inner join {{ trades }} as t
        on t.code = ch.code
        and t.entry_seq = ch.next_entry_seq
{% endmacro %}

{% macro spark__offense_chain(trades, candidates) %}
    select code, walked.entry_seq, walked.next_entry_seq
    from (
        select
            code,
            aggregate(
                array_sort(collect_list(named_struct('entry_seq', entry_seq, 'next_entry_seq', next_entry_seq))),
                named_struct(
                    'expect', cast(min(entry_seq) as bigint),
                    'taken', cast(array() as array<struct<entry_seq: bigint, next_entry_seq: bigint>>)
                ),
                (acc, x) -> case
                    when acc.expect is not null and cast(x.entry_seq as bigint) = acc.expect then named_struct(
                        'expect', cast(x.next_entry_seq as bigint),
                        'taken', array_append(acc.taken, named_struct(
                            'entry_seq', cast(x.entry_seq as bigint), 'next_entry_seq', cast(x.next_entry_seq as bigint)))
                    )
                    else acc
                end
            ).taken as steps
        from {{ trades }}
        group by code
    ) as w
    lateral view explode(steps) as walked
{% endmacro %}
