"""What keeps an unattended session from doing harm: kill switch, daily caps, stale data, back-off.

Every check answers with the reason it refuses (logged and audited by the session), or None.
The caps count what ops.orders says was sent today for the account, so a restart cannot reset them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from aquant.db import Database

from .feed import Quote

SENT = ("sent", "partial", "filled", "cancelled", "expired")


def kill_switch(path: Path) -> str | None:
    """The kill switch is a file: while it exists, nothing is sent (`aquant live --stop` creates it)."""
    if path.exists():
        why = path.read_text(encoding="utf-8", errors="replace").strip() or "no reason given"
        return f"kill switch {path} present ({why})"
    return None


def engage(path: Path, reason: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{reason} at {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC\n", encoding="utf-8")
    return path


def sent_today(db: Database, account: str, day: date) -> tuple[int, float]:
    """(orders sent, value committed in CNY) for `day`, from ops.orders: a working order counts
    whole, an ended one by what it filled (a stop's remainder re-sent after a timeout is not
    counted twice)."""
    marks = ", ".join("?" * len(SENT))
    row = db.query(f"select count(*), coalesce(sum(price * case when status in ('sent', 'partial') then qty "
                   f"else coalesce(filled_qty, 0) end), 0) from ops.orders where account = ? and "
                   f"trade_date = ? and status in ({marks})", [account, day, *SENT])[0]
    return int(row[0]), float(row[1])


def over_cap(db: Database, account: str, day: date, value: float, max_orders: int, max_value: float) -> str | None:
    n, v = sent_today(db, account, day)
    if n + 1 > max_orders:
        return f"daily cap: {n} order(s) already sent, max_orders_per_day {max_orders}"
    if v + value > max_value:
        return f"daily cap: {v:,.2f} CNY sent + {value:,.2f} > max_order_value_per_day {max_value:,.2f}"
    return None


def stale(q: Quote | None, now: datetime, max_age: float) -> str | None:
    if q is None:
        return "no quote yet"
    age = (now - q.at).total_seconds()
    if age > max_age:
        return f"stale data: last quote of {q.code} at {q.at:%H:%M:%S}, {age:.0f}s old (> {max_age:.0f}s)"
    return None


@dataclass
class Backoff:
    """Reconnect schedule after on_disconnected: wait waits[0], then waits[1], ... then the last, repeatedly."""

    waits: tuple[float, ...]
    attempt: int = 0
    next_at: datetime | None = None
    history: list[str] = field(default_factory=list)

    def due(self, now: datetime) -> bool:
        return self.next_at is None or now >= self.next_at

    def failed(self, now: datetime) -> None:
        w = self.waits[min(self.attempt, len(self.waits) - 1)]
        self.attempt += 1
        self.next_at = now + timedelta(seconds=w)
        self.history.append(f"{now:%H:%M:%S} attempt {self.attempt} failed; next in {w:.0f}s")

    def reset(self) -> None:
        self.attempt, self.next_at = 0, None
