{#-
  The PostgreSQL functions the models' postgres__ paths call, created by the on-run-start hook of
  every dbt invocation (dbt_project.yml) in their own schema, `udf` (`udf_schema()`), so no model
  schema holds anything but tables and views. Idempotent (`create or replace`), under an advisory
  lock so two dbt processes starting at once do not race on the catalog. Other engines: nothing.

  - udf.sorted_frame(double precision): a moving aggregate (msfunc/minvfunc) whose state is the
    frame's values in ascending order. A window `rows between N preceding and current row` adds
    the entering value with a binary search (width_bucket) and removes the leaving one the same
    way, so a frame step costs two array copies instead of re-aggregating the whole frame
    (PostgreSQL's array_agg has no inverse: a framed array_agg rebuilds each of the N-row frames).
    postgres__rolling_percent_rank counts the frame's smaller values with width_bucket.
  - udf.offense_chain_step(entry_seq, next_entry_seq): the offense chain (macros/offense_chain.sql)
    as a running aggregate over each stock's trades in entry order: a trade is taken when it is
    the first or the one the last taken trade points to. The state is {last taken entry_seq,
    its next_entry_seq}; no recursion, one pass per stock.
-#}
{% macro udf_schema() %}{{ return('udf') }}{% endmacro %}

{% macro create_udfs() %}
    {{ return(adapter.dispatch('create_udfs')()) }}
{% endmacro %}

{% macro default__create_udfs() %}{% endmacro %}

{% macro postgres__create_udfs() %}
{%- set s = udf_schema() %}
select pg_advisory_xact_lock(hashtext('aquant.create_udfs'));
create schema if not exists {{ s }};

-- insert v after the values <= v (width_bucket: how many thresholds are <= the operand)
create or replace function {{ s }}.sorted_values_add(s double precision [], v double precision)
returns double precision [] language plpgsql immutable strict parallel safe as $f$
begin
    return s[1:width_bucket(v, s)] || array[v] || s[width_bucket(v, s) + 1:];
end $f$;

-- drop one copy of v: the last value <= v is one (v entered the frame earlier)
create or replace function {{ s }}.sorted_values_remove(s double precision [], v double precision)
returns double precision [] language plpgsql immutable strict parallel safe as $f$
begin
    return s[1:width_bucket(v, s) - 1] || s[width_bucket(v, s) + 1:];
end $f$;

create or replace aggregate {{ s }}.sorted_frame(double precision) (
    sfunc = {{ s }}.sorted_values_add, stype = double precision [], initcond = '{}',
    msfunc = {{ s }}.sorted_values_add, minvfunc = {{ s }}.sorted_values_remove,
    mstype = double precision [], minitcond = '{}'
);

-- state {taken entry_seq, its next_entry_seq}; '{}' before the stock's first trade
create or replace function {{ s }}.offense_chain_add(s bigint [], entry_seq bigint, next_entry_seq bigint)
returns bigint [] language plpgsql immutable parallel safe as $f$
begin
    if cardinality(s) = 0 or s[2] = entry_seq then
        return array[entry_seq, next_entry_seq];
    end if;
    return s;
end $f$;

create or replace aggregate {{ s }}.offense_chain_step(bigint, bigint) (
    sfunc = {{ s }}.offense_chain_add, stype = bigint [], initcond = '{}'
);
{% endmacro %}
