"""One `aquant notify` run: find recent events, queue the unsent ones per channel, deliver everything pending.

Messages are digests (up to `BATCH` events each) so a busy day is a handful of e-mails or robot
posts, not hundreds; each event keeps its own alerts_log row and delivery result.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Sequence

import pandas as pd

from aquant import audit
from aquant.db import Database

from . import outbox
from .channels import Channel, DeliveryError, Message
from .events import DEFAULT_KINDS, LOOKBACK_DAYS, collect

BATCH = 20


@dataclass
class ChannelResult:
    queued: int = 0
    delivered: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class NotifyResult:
    """What a run did, per channel; `ok` is False if anything is left undelivered."""

    since: date | None
    events: int
    channels: dict[str, ChannelResult]
    dry_run: bool = False
    preview: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.failed == 0 for c in self.channels.values())

    def summary(self) -> str:
        if self.dry_run:
            return "\n".join([f"dry run: {self.events} event(s) since {self.since}; nothing sent", *self.preview])
        lines = [f"{self.events} event(s) since {self.since or '-'}"]
        for name, c in self.channels.items():
            lines.append(f"  {name}: {c.queued} new, {c.delivered} delivered, {c.failed} failed"
                         + (f" ({c.errors[-1]})" if c.errors else ""))
        return "\n".join(lines)


def compose(rows: pd.DataFrame) -> Message:
    """One digest message from alerts_log rows (their stored text, so a retry resends the same words)."""
    kinds = Counter(rows.kind)
    subject = f"aquant: {len(rows)} new event(s) — " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    text = "\n".join(f"- {m}" for m in rows.message) + "\n\nSent by `aquant notify`. Review: aquant app → Alerts."
    md = "## aquant 通知\n" + "\n".join(f"> {m}" for m in rows.message)
    return Message(subject=subject, text=text, markdown=md)


def _deliver(db: Database, channel: Channel, res: ChannelResult) -> None:
    todo = outbox.pending(db, channel.name)
    for start in range(0, len(todo), BATCH):
        chunk = todo.iloc[start:start + BATCH]
        ids = chunk.alert_id.tolist()
        try:
            channel.send(compose(chunk))
        except DeliveryError as exc:
            outbox.mark(db, ids, str(exc))
            res.failed += len(ids)
            res.errors.append(str(exc))
        except Exception as exc:  # a bug in an adapter must not lose the event either
            msg = f"{type(exc).__name__} in {channel.name} channel"
            outbox.mark(db, ids, msg)
            res.failed += len(ids)
            res.errors.append(msg)
        else:
            outbox.mark(db, ids, None)
            res.delivered += len(ids)


def deliver(db: Database, channel: Channel) -> ChannelResult:
    """Deliver this channel's pending rows now (used by `aquant live` for a stop that just fired)."""
    res = ChannelResult()
    _deliver(db, channel, res)
    return res


def run_notify(db: Database, channels: Sequence[Channel], kinds: Sequence[str] = DEFAULT_KINDS,
               since: date | None = None, dry_run: bool = False, who: str | None = None,
               lookback_days: int = LOOKBACK_DAYS) -> NotifyResult:
    """Queue recent events not yet sent on a channel, then deliver all pending rows; audits the run."""
    outbox.ensure(db)
    since, events = collect(db, since, kinds, lookback_days)
    result = NotifyResult(since=since, events=len(events), channels={c.name: ChannelResult() for c in channels},
                          dry_run=dry_run)
    if dry_run:
        result.preview = [e.line for e in events]
    else:
        for ch in channels:
            result.channels[ch.name].queued = outbox.queue(db, events, ch.name)
            _deliver(db, ch, result.channels[ch.name])
    detail: dict[str, Any] = {"since": since, "kinds": list(kinds), "events": len(events), "dry_run": dry_run,
                              "channels": {n: {"queued": c.queued, "delivered": c.delivered, "failed": c.failed,
                                               "last_error": c.errors[-1] if c.errors else None}
                                           for n, c in result.channels.items()}}
    audit.record(db, "notify", detail, who=who)
    return result
