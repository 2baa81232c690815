"""`aquant app`: start the Streamlit review app on the configured database.

Kept free of Streamlit imports so `aquant --help` stays fast and works without the app extra.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

import click

MAIN = Path(__file__).resolve().parent / "main.py"


def streamlit_command(port: int, address: str | None = None, extra: tuple[str, ...] = ()) -> list[str]:
    """The `streamlit run` command line (headless: the user opens the URL, CI drives a browser)."""
    cmd = [sys.executable, "-m", "streamlit", "run", str(MAIN), "--server.headless", "true",
           "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    if address:
        cmd += ["--server.address", address]
    return [*cmd, *extra]


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--port", type=int, default=8501, show_default=True)
@click.option("--address", default="127.0.0.1", show_default=True,
              help="Interface to listen on. Anything but loopback needs a login (AQUANT_APP_USERS or OIDC).")
@click.argument("streamlit_args", nargs=-1, type=click.UNPROCESSED)
def app(port: int, address: str, streamlit_args: tuple[str, ...]) -> None:
    """Open the review app (Today, Stock, Industries, Backtest, Alerts, Audit) in a browser.

    Reads the same database as every other command: AQUANT_DB / AQUANT_TARGET apply. Private by
    default: it listens on 127.0.0.1, and another interface needs a login (see docs/app.md).
    """
    from aquant.config import ConfigError, load_settings

    from . import auth

    if any(a.startswith("--server.address") for a in streamlit_args):
        raise click.UsageError("set the interface with --address, not --server.address")
    try:
        has_login = auth.login_configured(Path.cwd())
    except auth.AuthConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if not auth.is_loopback(address) and not has_login:
        raise click.ClickException(
            f"refusing to listen on {address} without a login: the app shows a trading book and records "
            f"decisions. Set {auth.USERS_ENV}='name:password[,name2:password2]' in the environment, or "
            f"configure Streamlit's OIDC login ([auth] in .streamlit/secrets.toml); or keep the default "
            f"127.0.0.1 and reach it through an SSH tunnel.")

    if importlib.util.find_spec("streamlit") is None:
        raise click.ClickException("streamlit is not installed; run `pip install -e .[app]`")
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"aquant app on http://{address}:{port} reading {settings.describe()} (Ctrl+C to stop)")
    # Same environment, so the Streamlit process resolves the same AQUANT_DB / AQUANT_TARGET.
    proc = subprocess.Popen(streamlit_command(port, address, streamlit_args), env=dict(os.environ))
    # Stopping `aquant app` (Ctrl+C, SIGTERM from a service manager) must stop Streamlit too.
    signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        code = proc.wait(timeout=15)
    sys.exit(code)


COMMANDS = [app]
