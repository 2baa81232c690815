"""Every page of the app, run by Streamlit's AppTest against a small hand-built DuckDB file."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from aquant.db import Database
from test_app_data import build_small_db

MAIN = str(Path(__file__).resolve().parents[1] / "app" / "main.py")
PAGES = ["views/today.py", "views/stock.py", "views/industries.py", "views/backtest.py", "views/alerts.py",
         "views/audit.py"]


@pytest.fixture
def small(tmp_path, monkeypatch):
    settings = build_small_db(tmp_path / "app.duckdb")
    monkeypatch.setenv("AQUANT_DB", str(settings.duckdb_path))
    monkeypatch.setenv("AQUANT_TARGET", "duckdb")
    return settings


def open_page(page: str, **query: str) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=60)
    at.query_params.update(query)
    at.run()
    if page != PAGES[0]:
        at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def frames(at: AppTest, *cols: str) -> list:
    """The tables on the page that have all these columns, in page order (AppTest exposes no keys)."""
    return [d.value for d in at.dataframe if set(cols) <= set(d.value.columns)]


def frame(at: AppTest, *cols: str, n: int = 0):
    found = frames(at, *cols)
    assert len(found) > n, f"no table #{n} with columns {cols}"
    return found[n]


def charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def test_today_ranks_scores_and_lists_signals_and_targets(small):
    at = open_page(PAGES[0])
    assert at.title[0].value == "Today"
    sc = frame(at, "industry_score", "composite_score")
    assert list(sc.code) == ["300750.SZ", "000001.SZ", "600000.SH"] and sc.name.iloc[0] == "宁德时代"
    buy, sell = frames(at, "take_profit", "stop_loss")
    assert buy.take_profit.iloc[0] == 60.0 and buy.stop_loss.iloc[0] == 45.0
    assert sell.code.tolist() == ["000001.SZ"]
    assert frame(at, "target_weight").target_weight.sum() == pytest.approx(0.9)
    assert charts(at) == 1  # weight by industry


def test_today_filters_by_industry_board_and_layer(small):
    at = open_page(PAGES[0])
    at.multiselect(key="today_ind").set_value(["银行"]).run()
    assert set(frame(at, "industry_score", "composite_score").code) == {"000001.SZ", "600000.SH"}
    assert frame(at, "take_profit").code.tolist() == ["000001.SZ"]  # the buy is not a bank
    at.multiselect(key="today_ind").set_value([]).run()
    at.multiselect(key="today_board").set_value(["chinext"]).run()
    assert frame(at, "industry_score", "composite_score").code.tolist() == ["300750.SZ"]
    at.selectbox(key="today_layer").set_value("stable").run()
    assert any("No buy or sell signal" in m.value for m in at.markdown)


def test_stock_draws_candles_macd_scores_and_explains_a_signal(small):
    at = open_page(PAGES[1], code="300750.SZ")
    assert "宁德时代" in at.selectbox(key="stock_pick").value
    assert charts(at) == 2  # candles+volume+MACD, factor scores
    sigs = frame(at, "signal_id", "kind")
    assert sigs.signal_id.tolist() == ["S-BUY-1"]
    detail = frame(at, "field", "value", n=1).set_index("field").value
    assert float(detail["composite_score"]) > 7 and detail["code"] == "300750.SZ"
    tech = frame(at, "field", "value", n=2).set_index("field").value
    assert "macd" in tech.index


def test_stock_lists_stable_alerts_with_the_offense_signals(small):
    at = open_page(PAGES[1], code="600000.SH")
    assert frame(at, "signal_id", "kind").signal_id.tolist() == ["S-ALERT-1"]


def test_industries_rank_by_fund_flow_with_history(small):
    at = open_page(PAGES[2])
    rank = frame(at, "industry_rank")
    assert rank.industry_l1.tolist() == ["电力设备", "银行"]
    assert charts(at) == 2


def test_backtest_shows_metrics_curves_and_filtered_trade_log(small):
    at = open_page(PAGES[3])
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Total return"] == "+8.80%" and metrics["Sharpe"] == "1.50"
    assert charts(at) == 2  # equity vs benchmark, drawdown
    assert len(frame(at, "seq", "side")) == 2
    at.selectbox(key="bt_status").set_value("rejected").run()
    log = frame(at, "seq", "side")
    assert log.reason.tolist() == ["signal: limit up"] and log.name.iloc[0] == "浦发银行"


def test_alert_decision_is_written_with_who_and_when_and_audited(small, monkeypatch):
    # On 127.0.0.1 without a login the identity is the person who started the app (AQUANT_ACTOR).
    monkeypatch.setenv("AQUANT_ACTOR", "张三")
    at = open_page(PAGES[4])
    opened = frame(at, "rule", "reason")
    assert opened.code.tolist() == ["600000.SH"] and opened.name.iloc[0] == "浦发银行"
    assert len(frame(at, "report_period", "roe")) == 2  # the two report periods the alert compared
    at.radio(key="alerts_decision").set_value("hold")
    at.text_area(key="alerts_comment").input("分红下降但估值便宜，继续持有")
    next(b for b in at.button if "Save decision" in b.label).click().run()
    assert not at.exception
    assert any("Saved: hold on 600000.SH by 张三" in s.value for s in at.success)
    assert any("No open alert" in m.value for m in at.markdown)
    dec = frame(at, "decided_by")
    assert dec.decided_by.tolist() == ["张三"] and dec.decided_at.notna().all()
    with Database(small) as db:
        who = db.query("select actor from ops.audit_log where action = 'alert_decision'")
    assert who == [("张三",)]


def test_audit_lists_events_reconciliation_and_notifications(small):
    at = open_page(PAGES[5])
    ev = frame(at, "event_id")
    assert "build" in ev.action.tolist()
    assert frame(at, "recon_date").kind.tolist() == ["missing_fill"]
    assert any("nothing sent yet" in m.value for m in at.caption)


def test_a_section_names_the_column_its_model_was_built_without(small):
    """signals built without take_profit (a stale build, a broken contract): the Today page says
    which column of which relation is missing instead of failing in the SQL engine."""
    with Database(small) as db:
        db.execute("alter table signals.signals drop column take_profit")
    at = open_page(PAGES[0])
    errors = [m.value for m in at.error]
    assert any("signals.signals has no column(s) take_profit" in e and "aquant build" in e for e in errors), errors
    assert frame(at, "industry_score", "composite_score").code.tolist()  # the rest of the page still shows


@pytest.mark.parametrize("page", PAGES)
def test_every_page_says_not_built_yet_on_an_empty_database(tmp_path, monkeypatch, page):
    monkeypatch.setenv("AQUANT_DB", str(tmp_path / "empty.duckdb"))
    monkeypatch.setenv("AQUANT_TARGET", "duckdb")
    at = open_page(page)
    assert any("not built yet" in m.value for m in at.info), [m.value for m in at.info]


def test_aquant_app_runs_streamlit_headless_on_the_main_script():
    from aquant.app.commands import MAIN as APP_MAIN, streamlit_command

    cmd = streamlit_command(8600, "127.0.0.1")
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4] == str(APP_MAIN) == MAIN
    assert cmd[cmd.index("--server.headless") + 1] == "true" and cmd[cmd.index("--server.port") + 1] == "8600"
