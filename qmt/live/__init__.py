"""`aquant live`: one trading day through miniQMT (or its simulation), unattended.

    knobs.py       the `live:` dbt var block (dbt_project.yml), the only home of the session's knobs
    clock.py       the session's minutes (Beijing time) and the wall/simulated clocks that walk them
    feed.py        quotes and minute bars through xtdata's interface (subscribe_whole_quote, get_market_data_ex)
    decide.py      the open: each recorded intent against the current price, or a logged skip
    watch.py       intraday stop-loss / take-profit / trailing stops, re-armed after a partial fill
    volume_ratio.py  分时量比 from minute bars, stored per minute
    writeback.py   xttrader callbacks -> ops.orders / ops.trades / ops.audit_log, as they arrive
    safety.py      kill switch, daily caps, stale-data refusal, reconnect back-off
    tables.py      the session's own ops tables (stops, volume ratio, session summary)
    simxt.py       a simulated exchange behind xtquant 250807's xttrader/xtdata interfaces (--broker sim, tests)
    session.py     the day: reconcile, open, watch, close, summary
    commands.py    the click command
"""
