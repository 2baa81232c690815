"""End to end: `streamlit run app/main.py` on a demo database, driven by headless Chromium.

Needs Debian's chromium at /usr/bin/chromium (Playwright's own browser download does not work
here) and a CJK font (fonts-wqy-zenhei) so Chinese names render in the screenshots. Screenshots
go to the test's tmp dir, and also to $AQUANT_SCREENSHOT_DIR when set (docs/screenshots/).
Set AQUANT_TEST_DEMO_DB to reuse an already built demo database instead of building one.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("AQUANT_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _aquant(env: dict, *args: str) -> None:
    exe = Path(sys.executable).parent / "aquant"
    proc = subprocess.run([str(exe), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"aquant {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    """The sample market built by `aquant demo` (plus a backtest run if the demo did not make one)."""
    reuse = os.environ.get("AQUANT_TEST_DEMO_DB")
    if reuse:
        return Path(reuse)
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    env = {**os.environ, "AQUANT_DB": str(path), "AQUANT_TARGET": "duckdb"}
    _aquant(env, "demo")
    import duckdb

    con = duckdb.connect(str(path))
    has_run = con.execute("select count(*) from information_schema.tables "
                          "where table_name = 'backtest_run'").fetchone()[0]
    first, last = con.execute("select min(trade_date), max(trade_date) from staging.stg_daily_quote").fetchone()
    con.close()
    if not has_run:
        _aquant(env, "backtest", "--start", str(first), "--end", str(last))
    return path


USER, PASSWORD = "analyst", "browser-test-pw"


def _lan_address() -> str | None:
    """This machine's address on a non-loopback interface (a UDP 'connect' sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            ip = s.getsockname()[0]
        except OSError:
            return None
    return None if ip.startswith("127.") else ip


@pytest.fixture(scope="module")
def app_url(demo_db: Path, tmp_path_factory):
    """`aquant app` itself (default address) with a password login configured."""
    port = _free_port()
    log = (tmp_path_factory.mktemp("streamlit") / "streamlit.log").open("w")
    env = {**os.environ, "AQUANT_DB": str(demo_db), "AQUANT_TARGET": "duckdb", "AQUANT_ACTOR": "browser-test",
           "AQUANT_APP_USERS": f"{USER}:{PASSWORD}"}
    exe = Path(sys.executable).parent / "aquant"
    proc = subprocess.Popen([str(exe), "app", "--port", str(port)], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            assert proc.poll() is None, f"streamlit exited early, see {log.name}"
            assert time.time() < deadline, "streamlit did not become healthy within 60 s"
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium fonts-wqy-zenhei` (do not use "
                    f"`playwright install`, its download does not work here)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> list[Path]:
    dirs = [tmp_path_factory.mktemp("screenshots")]
    if os.environ.get("AQUANT_SCREENSHOT_DIR"):
        dirs.append(Path(os.environ["AQUANT_SCREENSHOT_DIR"]))
        dirs[-1].mkdir(parents=True, exist_ok=True)
    return dirs


def settle(page) -> None:
    """Wait until Streamlit has finished the script run and Plotly has drawn."""
    page.wait_for_selector("h1", timeout=30_000)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    page.wait_for_timeout(1500)


def at_least(locator, n: int, timeout: int = 60_000) -> None:
    """Wait until `locator` matches at least n elements. A page counts as settled when Streamlit's
    status widget is gone, but on a loaded machine the widget may not have appeared yet when we look
    (CI once counted 0 metrics on the Backtest page that rendered a moment later), so every count
    waits for what it asserts."""
    locator.nth(n - 1).wait_for(state="attached", timeout=timeout)


def log_in(page, password: str = PASSWORD) -> None:
    page.get_by_role("textbox", name="User").fill(USER)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def visit(browser, url: str, name: str, title: str, shots: list[Path]):
    # Streamlit scrolls inside its main pane, so a tall window is what makes a full-page shot.
    page = browser.new_page(viewport={"width": 1440, "height": 2000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}/{'' if name == 'today' else name}", wait_until="domcontentloaded")  # Today is the default page
    page.get_by_role("button", name="Log in").wait_for(timeout=30_000)  # every new session logs in first
    log_in(page)
    page.get_by_role("heading", name=title, level=1).wait_for(timeout=30_000)
    settle(page)
    assert page.get_by_text("Page not found").count() == 0
    exc = page.locator('[data-testid="stException"]')
    assert exc.count() == 0, exc.first.inner_text()
    assert not errors, errors
    for d in shots:
        page.screenshot(path=str(d / f"{name}.png"), full_page=True)
    return page


def test_every_page_renders_the_demo_data_in_chromium(browser, app_url, shots):
    from playwright.sync_api import expect  # waits (Plotly draws after Streamlit's run ends)

    today = visit(browser, app_url, "today", "Today", shots)
    at_least(today.locator('[data-testid="stDataFrame"]'), 2)  # scores, signals or targets
    expect(today.get_by_text("Buy / sell signals")).to_have_count(1, timeout=60_000)
    today.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    today.close()

    stock = visit(browser, app_url, "stock", "Stock", shots)
    expect(stock.locator(".js-plotly-plot")).to_have_count(2, timeout=60_000)  # candles/volume/MACD, factor scores
    at_least(stock.locator("g.cartesianlayer .trace.boxes, g.trace.ohlc, path.box"), 1)  # candlesticks
    caption = stock.locator('[data-testid="stMain"] [data-testid="stCaptionContainer"]').first.inner_text()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in caption), caption  # the Chinese name and industry
    expect(stock.get_by_text("Signals and the factor values behind them")).to_have_count(1, timeout=60_000)
    stock.close()

    ind = visit(browser, app_url, "industries", "Industries", shots)
    expect(ind.locator(".js-plotly-plot")).to_have_count(2, timeout=60_000)
    ind.close()

    bt = visit(browser, app_url, "backtest", "Backtest", shots)
    at_least(bt.locator('[data-testid="stMetric"]'), 5)
    expect(bt.get_by_text("Total return")).to_have_count(1, timeout=60_000)
    expect(bt.locator(".js-plotly-plot")).to_have_count(2, timeout=60_000)
    bt.close()

    al = visit(browser, app_url, "alerts", "Alerts", shots)
    expect(al.get_by_role("heading", name="Decisions")).to_have_count(1, timeout=60_000)
    al.close()

    au = visit(browser, app_url, "audit", "Audit", shots)
    at_least(au.get_by_text("Audit log"), 1)
    at_least(au.locator('[data-testid="stDataFrame"]'), 1)
    au.close()


def test_a_decision_saved_in_the_browser_reaches_the_database(browser, app_url, demo_db, shots):
    page = visit(browser, app_url, "alerts", "Alerts", [])
    if page.get_by_text("No open alert").count():
        pytest.skip("the demo database has no open stable alert")
    page.get_by_text("hold", exact=True).click()
    page.get_by_label("Comment").fill("浏览器测试：继续持有")
    assert page.get_by_label("Who").count() == 0  # the identity is the login, not a typed name
    page.get_by_role("button", name="Save decision").click()
    page.get_by_text("Saved: hold").wait_for(timeout=30_000)
    settle(page)
    for d in shots:
        page.screenshot(path=str(d / "alerts-decided.png"), full_page=True)
    page.close()
    import duckdb

    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        rows = con.execute("select decision, comment, decided_by from ops.alert_decisions "
                           "where comment = '浏览器测试：继续持有'").fetchall()
        audited = con.execute("select count(*) from ops.audit_log where action = 'alert_decision' "
                              "and actor = ?", [USER]).fetchone()[0]
    finally:
        con.close()
    assert rows == [("hold", "浏览器测试：继续持有", USER)] and audited == 1


def test_nothing_is_shown_without_the_login_and_only_loopback_listens(browser, app_url):
    page = browser.new_page()
    page.goto(app_url, wait_until="domcontentloaded")
    page.get_by_role("button", name="Log in").wait_for(timeout=30_000)
    log_in(page, "not-the-password")
    page.get_by_text("Unknown user or wrong password.").wait_for(timeout=30_000)
    assert page.get_by_role("heading", name="Today").count() == 0
    assert page.locator('[data-testid="stDataFrame"]').count() == 0
    page.close()
    lan = _lan_address()
    if lan:  # `aquant app` without --address binds 127.0.0.1 only
        port = int(app_url.rsplit(":", 1)[1])
        with pytest.raises(OSError):
            socket.create_connection((lan, port), timeout=3).close()


def test_research_page_shows_ic_decay_and_quantile_returns_with_their_periods(browser, app_url, demo_db, shots):
    """The Research page draws the evaluation layer of the demo build: IC over time, IC decay and
    quantile bars, each titled with the period it covers (the first and last evaluated day)."""
    import duckdb
    from playwright.sync_api import expect

    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        first, last = con.execute("select min(first_date), max(last_date) "
                                  "from evaluation.eval_factor_summary").fetchone()
    finally:
        con.close()
    page = visit(browser, app_url, "research", "Research", shots)
    expect(page.locator(".js-plotly-plot")).to_have_count(3, timeout=60_000)  # IC over time, decay, quantiles
    for title in ("Rank IC over time", "IC decay", "Mean forward return by quantile"):
        expect(page.locator(".js-plotly-plot .gtitle", has_text=title)).to_have_count(1, timeout=30_000)
    decay = page.locator(".js-plotly-plot .gtitle", has_text="IC decay").text_content()
    assert f"{first} → {last}" in decay, decay
    expect(page.locator('[data-testid="stDataFrame"]')).to_have_count(1, timeout=60_000)  # the summary table
    expect(page.locator(".js-plotly-plot", has_text="Q5")).to_have_count(1, timeout=60_000)  # quintile bars
    page.close()
