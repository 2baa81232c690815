"""Notifications: tell a person about new stable alerts, stops hit and (optionally) buy signals.

    events.py    which signals, phrased as one line each
    outbox.py    ops.alerts_log: queued before sending, marked after; retries and no duplicates
    channels.py  the Channel protocol and registry; mailer.py (SMTP), wecom.py (robot), sms.py (example)
    runner.py    one run: collect, queue, deliver, audit
    commands.py  `aquant notify`, `aquant audit`
"""
from __future__ import annotations

from .commands import COMMANDS

__all__ = ["COMMANDS"]
