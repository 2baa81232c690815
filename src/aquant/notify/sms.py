"""SMS: an example adapter showing how to plug in a provider. No provider is bundled.

Text-message gateways (Aliyun, Tencent Cloud, Twilio, ...) each have their own signed API and
templates, so aquant does not ship one. To add yours, write a function
`send(to: str, text: str) -> None` that raises on failure, and point the environment at it:

    AQUANT_SMS_PROVIDER=mypackage.sms:send   AQUANT_SMS_TO=+8613800000000[,+86...]

Credentials for the provider belong in its own environment variables, read by that function.
Unset, this channel stays off.
"""
from __future__ import annotations

import importlib
from typing import Callable, Mapping

from .channels import DeliveryError, Message, register

MAX_CHARS = 300  # long SMS are split and billed per part; keep it to a summary


class SmsChannel:
    name = "sms"

    def __init__(self, send_fn: Callable[[str, str], None], to: list[str]):
        self.send_fn, self.to = send_fn, to

    def send(self, message: Message) -> None:
        text = message.subject if len(message.text) > MAX_CHARS else message.text
        for number in self.to:
            try:
                self.send_fn(number, text[:MAX_CHARS])
            except Exception as exc:  # a provider may raise anything; record it as a failed delivery
                raise DeliveryError(f"SMS provider failed for {number[:4]}***: {type(exc).__name__}: {exc}") from None


@register("sms")
def from_env(env: Mapping[str, str]) -> SmsChannel | None:
    spec, to = env.get("AQUANT_SMS_PROVIDER"), env.get("AQUANT_SMS_TO")
    if not spec or not to:
        return None
    module, _, attr = spec.partition(":")
    try:
        fn = getattr(importlib.import_module(module), attr or "send")
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"AQUANT_SMS_PROVIDER={spec!r} is not an importable 'module:function' ({exc})") from exc
    return SmsChannel(fn, [n.strip() for n in to.split(",") if n.strip()])
