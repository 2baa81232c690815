"""The review app is private by default (issue 19, part 3): loopback unless a login is configured,
and every decision carries the logged-in identity, not a typed name."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from aquant.app import auth
from aquant.cli import main
from aquant.db import Database

from test_app_pages import MAIN, PAGES, frame, small  # noqa: F401 - `small` is a fixture

SECRET = "s3cret-pw-never-shown"


def test_app_refuses_another_interface_without_a_login(monkeypatch, tmp_path):
    monkeypatch.delenv(auth.USERS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml here
    out = CliRunner().invoke(main, ["app", "--address", "0.0.0.0", "--port", "8599"])
    assert out.exit_code == 1 and "refusing to listen on 0.0.0.0" in out.output
    out = CliRunner().invoke(main, ["app", "--server.address", "0.0.0.0"])
    assert out.exit_code == 2


def test_app_listens_on_loopback_by_default():
    opt = next(p for p in main.commands["app"].params if p.name == "address")
    assert opt.default == "127.0.0.1" and auth.is_loopback(opt.default)
    assert auth.is_loopback("::1") and auth.is_loopback("localhost") and not auth.is_loopback("0.0.0.0")
    assert not auth.is_loopback("192.168.1.5")


def test_oidc_section_counts_as_a_login(tmp_path, monkeypatch):
    monkeypatch.delenv(auth.USERS_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert not auth.login_configured(tmp_path)
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text('[auth]\nredirect_uri = "http://x/oauth2callback"\n')
    assert auth.login_configured(tmp_path)


def test_malformed_users_never_echo_the_secret(monkeypatch):
    monkeypatch.setenv(auth.USERS_ENV, f"alice:{SECRET},{SECRET}")
    with pytest.raises(auth.AuthConfigError) as err:
        auth.password_users()
    assert SECRET not in str(err.value) and "entry 2" in str(err.value)
    users = {"alice": SECRET}
    assert auth.check_password(users, "alice", SECRET)
    assert not auth.check_password(users, "alice", SECRET + "x") and not auth.check_password(users, "bob", "")


def test_login_is_required_and_the_decision_carries_the_user(small, monkeypatch):  # noqa: F811
    monkeypatch.setenv(auth.USERS_ENV, f"analyst:{SECRET},boss:other-pw")
    monkeypatch.setenv("AQUANT_ACTOR", "someone-else")
    at = AppTest.from_file(MAIN, default_timeout=60)
    at.run()
    assert [t.value for t in at.title] == ["aquant"] and not at.dataframe  # no data before the login
    at.text_input(key="login_user").input("analyst")
    at.text_input(key="login_password").input("wrong")
    at.button[0].click().run()
    assert any("wrong password" in e.value for e in at.error) and not at.dataframe
    at.text_input(key="login_password").input(SECRET)
    at.button[0].click().run()
    assert not at.exception and at.dataframe  # the Today page with its tables
    at.switch_page(PAGES[4]).run()
    at.radio(key="alerts_decision").set_value("hold")
    next(b for b in at.button if "Save decision" in b.label).click().run()
    assert any("by analyst" in s.value for s in at.success), [s.value for s in at.success]
    assert frame(at, "decided_by").decided_by.tolist() == ["analyst"]
    with Database(small) as db:
        assert db.query("select actor from ops.audit_log where action = 'alert_decision'") == [("analyst",)]
