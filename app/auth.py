"""Who is using the review app, and whether it may listen beyond this machine.

A trading book is private: `aquant app` listens on 127.0.0.1 unless told otherwise, and refuses
another interface unless a login is configured, either

- Streamlit's built-in OIDC login (an `[auth]` section in `.streamlit/secrets.toml`; the identity
  is the provider's e-mail), or
- named passwords from the environment: `AQUANT_APP_USERS="alice:secret-1,bob:secret-2"` (the
  identity is the name whose password matched; compared in constant time, never logged).

Every write the app makes (a decision on an alert, and its audit row) carries that identity. On
127.0.0.1 without a login, the identity is the person who started the app (AQUANT_ACTOR or the
OS user), the same as on the command line. Kept free of Streamlit imports at module level so the
CLI can use the checks.
"""
from __future__ import annotations

import hmac
import ipaddress
import os
from pathlib import Path

USERS_ENV = "AQUANT_APP_USERS"
LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


class AuthConfigError(ValueError):
    """AQUANT_APP_USERS is malformed; the message says how, never what the secret is."""


def password_users(environ: dict[str, str] | None = None) -> dict[str, str]:
    """name -> password from AQUANT_APP_USERS ('name:password' pairs separated by commas)."""
    raw = (environ if environ is not None else os.environ).get(USERS_ENV, "").strip()
    if not raw:
        return {}
    users: dict[str, str] = {}
    for n, item in enumerate(raw.split(","), start=1):
        name, sep, password = item.strip().partition(":")
        if not sep or not name.strip() or not password:
            raise AuthConfigError(f"{USERS_ENV}: entry {n} is not 'name:password' (names and passwords "
                                  f"must not be empty; separate users with commas)")
        users[name.strip()] = password
    return users


def oidc_configured(root: Path | None = None) -> bool:
    """True when a Streamlit secrets file next to the app or in ~/.streamlit has an [auth] section."""
    import tomllib

    places = [Path.cwd() / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml"]
    if root is not None:
        places.insert(0, root / ".streamlit" / "secrets.toml")
    for p in places:
        if p.is_file():
            try:
                if "auth" in tomllib.loads(p.read_text()):
                    return True
            except (OSError, tomllib.TOMLDecodeError):
                continue
    return False


def login_configured(root: Path | None = None) -> bool:
    return bool(password_users()) or oidc_configured(root)


def is_loopback(address: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: reachable from this machine only."""
    a = address.strip().strip("[]").lower()
    if a in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(a).is_loopback
    except ValueError:
        return False


def check_password(users: dict[str, str], name: str, password: str) -> bool:
    """Constant-time comparison, and the same work whether or not the name exists."""
    expected = users.get(name.strip(), "")
    ok = hmac.compare_digest(expected.encode(), password.encode())
    return ok and name.strip() in users
