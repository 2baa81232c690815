"""What a delivery channel is, and the registry that turns environment settings into channels.

A channel takes one `Message` and either returns (delivered) or raises `DeliveryError`. Adding a
channel (SMS, Slack, DingTalk, ...) means writing a class with `name` and `send`, plus a
`from_env` factory registered here; the notifier, outbox and retries need no change.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Mapping, Protocol, runtime_checkable


@dataclass(frozen=True)
class Message:
    """One notification: a subject, a plain-text body, and a Markdown body for chat robots."""

    subject: str
    text: str
    markdown: str


class DeliveryError(RuntimeError):
    """The channel did not accept the message; the text is already free of credentials."""


@runtime_checkable
class Channel(Protocol):
    """A way to reach a person. `send` must raise DeliveryError (never return) on failure."""

    name: str

    def send(self, message: Message) -> None: ...


@dataclass
class Secrets:
    """Values that must never appear in a log line, an exception or ops.alerts_log."""

    values: list[str] = field(default_factory=list)

    def add(self, *values: str | None) -> None:
        self.values += [v for v in values if v and len(v) >= 3]

    def mask(self, text: object) -> str:
        out = str(text)
        for v in sorted(self.values, key=len, reverse=True):  # longest first: a URL before its key
            out = out.replace(v, "***")
        return out


Factory = Callable[[Mapping[str, str]], "Channel | None"]
_REGISTRY: dict[str, Factory] = {}


def register(name: str) -> Callable[[Factory], Factory]:
    """Decorator: `@register("sms") def from_env(env): ...` returns a channel or None if unset."""
    def deco(factory: Factory) -> Factory:
        _REGISTRY[name] = factory
        return factory
    return deco


def registered() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def configured(env: Mapping[str, str] | None = None, only: list[str] | None = None) -> list[Channel]:
    """The channels whose settings are present in the environment (credentials come only from there)."""
    _load_builtin()
    env = os.environ if env is None else env
    unknown = sorted(set(only or []) - set(_REGISTRY))
    if unknown:
        raise ValueError(f"unknown channel(s) {', '.join(unknown)}; known: {', '.join(sorted(_REGISTRY))}")
    out = []
    for name in sorted(_REGISTRY):
        if only and name not in only:
            continue
        ch = _REGISTRY[name](env)
        if ch is not None:
            out.append(ch)
    return out


def _load_builtin() -> None:
    # Importing the modules runs their @register decorators.
    from . import mailer, sms, wecom  # noqa: F401
