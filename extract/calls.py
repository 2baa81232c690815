"""Every upstream call goes through here: rate limit, timeout, retry with back-off.

Free sources ban clients that hammer them and many akshare functions default to
`timeout=None` (a dropped packet hangs forever), so the guard is applied to the client object
itself: extractors call `client.stock_zh_a_hist(...)` as usual and cannot forget it.
"""
from __future__ import annotations

import concurrent.futures as cf
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger("aquant.extract")


class CallTimeout(TimeoutError):
    """An upstream call did not answer within the policy's timeout."""


def _transient_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [ConnectionError, TimeoutError]
    try:
        import requests

        types += [requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                  requests.exceptions.ChunkedEncodingError]
    except ImportError:  # pragma: no cover - requests ships with pandas' usual stack
        pass
    try:  # akshare >= 1.15 raises its own NetworkError (not a RequestException) from some calls
        from akshare.exceptions import NetworkError, RateLimitError

        types += [NetworkError, RateLimitError]
    except ImportError:
        pass
    return tuple(types)


TRANSIENT = _transient_types()
# tushare reports its per-minute quota as a plain Exception with this text: wait and retry.
_RATE_LIMIT_TEXT = ("每分钟最多访问", "最多访问该接口", "rate limit")


def is_transient(exc: BaseException) -> bool:
    """Network trouble or a quota hit: worth retrying. Schema errors (KeyError, ValueError…) are not."""
    if isinstance(exc, TRANSIENT):
        return True
    return type(exc) is Exception and any(t in str(exc) for t in _RATE_LIMIT_TEXT)


@dataclass
class CallPolicy:
    """How upstream calls are paced and retried. `sleep` is injectable so tests do not wait."""

    min_interval: float = 0.5
    retries: int = 3
    backoff: float = 1.0
    timeout: float | None = 30.0
    sleep: Callable[[float], None] = time.sleep
    calls: int = 0
    _last: float = field(default=0.0, repr=False)
    _pool: cf.ThreadPoolExecutor | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _pace(self) -> None:
        wait = self.min_interval - (time.monotonic() - self._last)
        if wait > 0:
            self.sleep(wait)
        self._last = time.monotonic()

    def _with_timeout(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        if not self.timeout:
            return fn(*args, **kwargs)
        if self._pool is None:
            self._pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="aquant-upstream")
        fut = self._pool.submit(fn, *args, **kwargs)
        try:
            return fut.result(timeout=self.timeout)
        except cf.TimeoutError:
            # The hung call keeps its thread; give later calls a fresh one.
            self._pool.shutdown(wait=False)
            self._pool = None
            raise CallTimeout(f"no answer within {self.timeout:.0f}s") from None

    def call(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run fn with pacing, a timeout and up to `retries` retries on transient errors."""
        attempt = 0
        while True:
            self._pace()
            self.calls += 1
            try:
                return self._with_timeout(fn, args, kwargs)
            except Exception as exc:  # noqa: BLE001 - classified right below
                if not is_transient(exc) or attempt >= self.retries:
                    raise
                delay = self.backoff * (2 ** attempt)
                log.warning("%s failed (%s: %s); retry %d/%d in %.1fs", name, type(exc).__name__, exc,
                            attempt + 1, self.retries, delay)
                self.sleep(delay)
                attempt += 1

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None


class GuardedClient:
    """Wraps a client module/object so each attribute call goes through a CallPolicy."""

    def __init__(self, client: Any, policy: CallPolicy, prefix: str):
        self._client = client
        self._policy = policy
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        if not callable(target):
            return target

        def guarded(*args: Any, **kwargs: Any) -> Any:
            return self._policy.call(f"{self._prefix}.{name}", target, *args, **kwargs)

        return guarded
