"""`aquant notify` against real local servers: an aiosmtpd SMTP server and an http.server standing
in for the WeCom robot webhook. Pins delivery, the alerts_log record, retries and no duplicates."""
from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
from datetime import date, timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from click.testing import CliRunner

from aquant.cli import main as cli
from aquant.db import Database
from aquant.notify.channels import Secrets, configured
from aquant.notify.mailer import EmailChannel
from aquant.notify.runner import run_notify
from aquant.notify.sms import SmsChannel
from aquant.notify.wecom import WeComChannel
from test_app_data import LAST, build_small_db

# ---------------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler keeping every accepted message."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 OK"


def start_smtp(inbox: Inbox, port: int | None = None, **kwargs) -> Controller:
    ctl = Controller(inbox, hostname="127.0.0.1", port=port or free_port(), **kwargs)
    ctl.start()
    return ctl


class Robot(BaseHTTPRequestHandler):
    """WeCom robot double: records posts; `mode` decides the answer."""

    posts: list = []
    mode = "ok"

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if type(self).mode == "http500":
            self.send_response(500)
            self.end_headers()
            return
        answer = {"errcode": 0, "errmsg": "ok"}
        if type(self).mode == "errcode":
            answer = {"errcode": 93000, "errmsg": "invalid webhook url"}
        else:
            type(self).posts.append({"path": self.path, "json": json.loads(body)})
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def robot():
    handler = type("R", (Robot,), {"posts": [], "mode": "ok"})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    handler.url = f"http://127.0.0.1:{srv.server_address[1]}/cgi-bin/webhook/send?key=SECRET-ROBOT-KEY-123"
    yield handler
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def smtp():
    inbox = Inbox()
    ctl = start_smtp(inbox)
    inbox.port = ctl.port
    yield inbox
    ctl.stop()


@pytest.fixture
def small(tmp_path: Path):
    return build_small_db(tmp_path / "notify.duckdb")


def mail(port: int, **kw) -> EmailChannel:
    return EmailChannel(host="127.0.0.1", port=port, sender="aquant@example.com", to=["pm@example.com"],
                        tls=kw.pop("tls", "none"), timeout=5, **kw)


def log_rows(db: Database) -> pd.DataFrame:
    return db.query_df("select * from ops.alerts_log order by channel, event_key")

# ---------------------------------------------------------------------------------- delivery


def test_new_alerts_and_stops_land_by_mail_and_robot_and_are_logged_delivered(small, smtp, robot):
    with Database(small) as db:
        res = run_notify(db, [mail(smtp.port), WeComChannel(robot.url, timeout=5)])
        rows = log_rows(db)
        audit = db.query_df("select * from ops.audit_log where action = 'notify'")
    assert res.ok and res.events == 2  # the stable alert and the stop; buys are off by default
    assert len(smtp.messages) == 1 and len(robot.posts) == 1
    body = smtp.messages[0].get_content()
    assert "浦发银行" in body and "平安银行" in body and "宁德时代" not in body
    assert "2 new event" in smtp.messages[0]["Subject"]
    post = robot.posts[0]["json"]
    assert post["msgtype"] == "markdown" and "浦发银行" in post["markdown"]["content"]
    assert len(rows) == 4 and rows.delivered.all() and (rows.attempts == 1).all()
    assert rows.delivered_at.notna().all() and rows.last_error.isna().all()
    assert set(rows.event_key) == {"S-ALERT-1:email", "S-SELL-1:email", "S-ALERT-1:wecom", "S-SELL-1:wecom"}
    assert set(rows.layer) == {"stable", "offense"} and set(rows.kind) == {"alert", "sell"}
    detail = json.loads(audit.detail.iloc[0])
    assert detail["channels"]["email"]["delivered"] == 2 and detail["events"] == 2


def test_a_second_run_sends_nothing_twice(small, smtp, robot):
    channels = [mail(smtp.port), WeComChannel(robot.url, timeout=5)]
    with Database(small) as db:
        run_notify(db, channels)
        again = run_notify(db, channels)
        assert len(log_rows(db)) == 4
    assert len(smtp.messages) == 1 and len(robot.posts) == 1
    assert all(c.queued == 0 and c.delivered == 0 for c in again.channels.values())


@pytest.mark.parametrize("failure", ["errcode", "http500"])
def test_failed_robot_delivery_is_kept_then_retried_once(small, smtp, robot, failure):
    channels = [mail(smtp.port), WeComChannel(robot.url, timeout=5)]
    robot.mode = failure
    with Database(small) as db:
        first = run_notify(db, channels)
        rows = log_rows(db).set_index("event_key")
        assert not first.ok and first.channels["email"].delivered == 2 and first.channels["wecom"].failed == 2
        assert not rows.loc["S-ALERT-1:wecom", "delivered"] and rows.loc["S-ALERT-1:wecom", "attempts"] == 1
        assert ("93000" if failure == "errcode" else "HTTP 500") in rows.loc["S-ALERT-1:wecom", "last_error"]
        assert rows.loc["S-ALERT-1:email", "delivered"]

        robot.mode = "ok"
        second = run_notify(db, channels)
        rows = log_rows(db).set_index("event_key")
        third = run_notify(db, channels)
    assert second.ok and second.channels["wecom"].delivered == 2 and second.channels["email"].delivered == 0
    assert rows.delivered.all() and rows.loc["S-ALERT-1:wecom", "attempts"] == 2
    assert rows.loc["S-ALERT-1:wecom", "last_error"] is None or pd.isna(rows.loc["S-ALERT-1:wecom", "last_error"])
    assert third.channels["wecom"].delivered == 0
    assert len(robot.posts) == 1 and len(smtp.messages) == 1  # each event reached each channel exactly once


def test_smtp_server_down_keeps_the_mail_queued_until_it_is_back(small):
    port = free_port()
    with Database(small) as db:
        down = run_notify(db, [mail(port)])
        assert down.channels["email"].failed == 2 and not log_rows(db).delivered.any()
        inbox = Inbox()
        ctl = start_smtp(inbox, port=port)
        try:
            up = run_notify(db, [mail(port)])
        finally:
            ctl.stop()
        rows = log_rows(db)
    assert up.channels["email"].delivered == 2 and len(inbox.messages) == 1
    assert rows.delivered.all() and (rows.attempts == 2).all()


def test_signals_of_a_later_day_are_new_and_earlier_ones_are_not_resent(small, smtp):
    with Database(small) as db:
        run_notify(db, [mail(smtp.port)])
        sig = db.query_df("select * from signals.signals where signal_id = 'S-ALERT-1'")
        sig["signal_id"], sig["trade_date"] = "S-ALERT-2", LAST + timedelta(days=3)
        db.con.register("_new", sig)
        db.execute("insert into signals.signals select * from _new")
        res = run_notify(db, [mail(smtp.port)])
    assert res.channels["email"].queued == 1  # the days already queued are looked at again...
    assert len(smtp.messages) == 2 and smtp.messages[1]["Subject"].startswith("aquant: 1 new event")
    assert "平安银行" not in smtp.messages[1].get_content()  # ...but what was sent is not sent again


def test_buy_signals_are_sent_only_when_asked(small, smtp):
    with Database(small) as db:
        res = run_notify(db, [mail(smtp.port)], kinds=("alert", "stop", "buy"))
    assert res.events == 3 and "宁德时代" in smtp.messages[0].get_content()


def test_a_late_signal_dated_before_what_was_sent_is_still_sent(small, smtp):
    with Database(small) as db:
        run_notify(db, [mail(smtp.port)])
        sig = db.query_df("select * from signals.signals where signal_id = 'S-ALERT-1'")
        sig["signal_id"], sig["trade_date"] = "S-LATE", LAST - timedelta(days=2)  # e.g. a report announced late
        db.con.register("_late", sig)
        db.execute("insert into signals.signals select * from _late")
        res = run_notify(db, [mail(smtp.port)])
    assert res.channels["email"].queued == 1 and len(smtp.messages) == 2
    assert str(LAST - timedelta(days=2)) in smtp.messages[1].get_content()


def test_signals_older_than_the_lookback_window_are_not_announced(tmp_path, smtp):
    settings = build_small_db(tmp_path / "hist.duckdb")
    with Database(settings) as db:
        old = db.query_df("select * from signals.signals where signal_id = 'S-ALERT-1'")
        old["signal_id"], old["trade_date"] = "S-OLD", date(2023, 1, 3)
        db.con.register("_old", old)
        db.execute("insert into signals.signals select * from _old")
        res = run_notify(db, [mail(smtp.port)])
    assert res.events == 2 and "2023-01-03" not in smtp.messages[0].get_content()

# ---------------------------------------------------------------------------------- credentials


def test_credentials_never_reach_the_log_or_the_audit(small, smtp, robot):
    robot.mode = "errcode"
    secret_pw = "Pa55-word-XYZ"
    good = {"user": "pm", "password": secret_pw}

    def auth(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=auth_data.login == b"pm" and auth_data.password == secret_pw.encode(),
                          handled=False)

    inbox = Inbox()
    ctl = start_smtp(inbox, authenticator=auth, auth_require_tls=False)
    try:
        with Database(small) as db:
            bad = run_notify(db, [mail(ctl.port, user="pm", password=secret_pw + "-wrong"),
                                  WeComChannel(robot.url, timeout=5)])
            ok = run_notify(db, [mail(ctl.port, **good)])
            dump = log_rows(db).to_csv() + db.query_df("select * from ops.audit_log").to_csv()
    finally:
        ctl.stop()
    assert bad.channels["email"].failed == 2 and "535" in bad.channels["email"].errors[0]
    assert ok.channels["email"].delivered == 2 and len(inbox.messages) == 1
    for secret in (secret_pw, "SECRET-ROBOT-KEY-123", robot.url):
        assert secret not in dump
    assert secret_pw not in repr(mail(1, **good))


def test_mask_hides_every_secret_value():
    s = Secrets()
    s.add("http://h/send?key=K123", "K123", None, "")
    assert s.mask("failed http://h/send?key=K123 (K123)") == "failed *** (***)"

# ---------------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    if not shutil.which("openssl"):
        pytest.skip("openssl CLI not installed")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "key.pem"),
                    "-out", str(d / "cert.pem"), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return d / "cert.pem", d / "key.pem"


def _server_ctx(cert) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*map(str, cert))
    return ctx


def test_starttls_delivers_and_verifies_the_server_certificate(small, cert):
    inbox = Inbox()
    ctl = start_smtp(inbox, tls_context=_server_ctx(cert), require_starttls=True)
    try:
        with Database(small) as db:
            untrusted = run_notify(db, [mail(ctl.port, tls="starttls")])
            trusted = run_notify(db, [mail(ctl.port, tls="starttls", cafile=str(cert[0]))])
    finally:
        ctl.stop()
    assert untrusted.channels["email"].failed == 2
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.channels["email"].errors[0]
    assert trusted.channels["email"].delivered == 2 and len(inbox.messages) == 1


def test_implicit_ssl_delivers(small, cert):
    inbox = Inbox()
    ctl = start_smtp(inbox, ssl_context=_server_ctx(cert))
    try:
        with Database(small) as db:
            res = run_notify(db, [mail(ctl.port, tls="ssl", cafile=str(cert[0]))])
    finally:
        ctl.stop()
    assert res.ok and res.channels["email"].delivered == 2 and len(inbox.messages) == 1

# ---------------------------------------------------------------------------------- channels and CLI


def test_channels_come_from_the_environment_only():
    env = {"AQUANT_SMTP_HOST": "mail.example.com", "AQUANT_SMTP_TO": "a@x.cn, b@x.cn", "AQUANT_SMTP_TLS": "ssl",
           "AQUANT_WECOM_WEBHOOK": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"}
    chans = {c.name: c for c in configured(env)}
    assert set(chans) == {"email", "wecom"}
    assert chans["email"].port == 465 and chans["email"].to == ["a@x.cn", "b@x.cn"]
    assert configured({}) == [] and [c.name for c in configured(env, only=["wecom"])] == ["wecom"]
    with pytest.raises(ValueError, match="unknown channel"):
        configured(env, only=["pager"])


def test_sms_adapter_plugs_in_a_provider_function(small):
    sent = []
    with Database(small) as db:
        res = run_notify(db, [SmsChannel(lambda to, text: sent.append((to, text)), ["+8613800000000"])])
        rows = log_rows(db)
    assert res.ok and len(sent) == 1 and set(rows.channel) == {"sms"} and rows.delivered.all()


def test_cli_notify_and_audit(small, smtp, monkeypatch):
    monkeypatch.setenv("AQUANT_DB", str(small.duckdb_path))
    monkeypatch.setenv("AQUANT_TARGET", "duckdb")
    for k in ("AQUANT_WECOM_WEBHOOK", "AQUANT_SMS_PROVIDER", "AQUANT_NOTIFY_KINDS"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.delenv("AQUANT_SMTP_HOST", raising=False)
    none = CliRunner().invoke(cli, ["notify"])
    assert none.exit_code != 0 and "no notification channel configured" in none.output
    monkeypatch.setenv("AQUANT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("AQUANT_SMTP_PORT", str(smtp.port))
    monkeypatch.setenv("AQUANT_SMTP_TLS", "none")
    monkeypatch.setenv("AQUANT_SMTP_TO", "pm@example.com")
    dry = CliRunner().invoke(cli, ["notify", "--dry-run"])
    assert dry.exit_code == 0 and "浦发银行" in dry.output and not smtp.messages
    sent = CliRunner().invoke(cli, ["notify"])
    assert sent.exit_code == 0, sent.output
    assert "email: 2 new, 2 delivered, 0 failed" in sent.output and len(smtp.messages) == 1
    listed = CliRunner().invoke(cli, ["audit", "--action", "notify"])
    assert listed.exit_code == 0 and listed.output.count("notify") >= 2

# ---------------------------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres
def test_alerts_log_on_postgres_with_retry(pg_db, robot):
    sig = pd.DataFrame([dict(signal_id="PG-1", trade_date=LAST, code="600000.SH", layer="stable", kind="alert",
                             rule="roe_drop", composite_score=5.0, take_profit=None, stop_loss=None, priority=1,
                             reason="ROE 下滑", close=10.0)])
    with Database(pg_db) as db:
        db.execute("create schema signals")
        db.execute("create table signals.signals (signal_id varchar primary key, trade_date date, code varchar, "
                   "layer varchar, kind varchar, rule varchar, composite_score double precision, "
                   "take_profit double precision, stop_loss double precision, priority integer, reason varchar, "
                   "close double precision, metric_value double precision, threshold double precision)")
        r = sig.iloc[0]
        db.execute("insert into signals.signals values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   [r.signal_id, r.trade_date, r.code, r.layer, r.kind, r.rule, 5.0, None, None, 1, r.reason, 10.0,
                    0.04, 0.05])
        robot.mode = "errcode"
        first = run_notify(db, [WeComChannel(robot.url, timeout=5)])
        failed = log_rows(db)
        robot.mode = "ok"
        second = run_notify(db, [WeComChannel(robot.url, timeout=5)])
        third = run_notify(db, [WeComChannel(robot.url, timeout=5)])
        rows = log_rows(db)
        audits = db.scalar("select count(*) from ops.audit_log where action = 'notify'")
    assert first.channels["wecom"].failed == 1 and not failed.delivered.iloc[0]
    assert second.channels["wecom"].delivered == 1 and third.channels["wecom"].queued == 0
    assert len(rows) == 1 and rows.delivered.iloc[0] and rows.attempts.iloc[0] == 2
    assert rows.event_key.iloc[0] == "PG-1:wecom" and len(robot.posts) == 1 and audits == 3
    assert "ROE 下滑" in robot.posts[0]["json"]["markdown"]["content"]
