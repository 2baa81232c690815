"""WeCom (企业微信) group robot: POST a markdown message to the robot's webhook URL.

The webhook URL carries the robot's key, so it is treated as a credential: it comes only from
AQUANT_WECOM_WEBHOOK and is masked in every error. WeCom answers HTTP 200 even when it rejects a
message; the JSON `errcode` is the real result (0 = accepted).
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Mapping
from urllib.parse import parse_qs, urlparse

from .channels import DeliveryError, Message, Secrets, register

MAX_BYTES = 4096  # WeCom's limit on markdown content


def _fit(text: str, limit: int = MAX_BYTES) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[: limit - 20].decode("utf-8", errors="ignore") + "\n…(truncated)"


class WeComChannel:
    name = "wecom"

    def __init__(self, webhook: str, timeout: float = 10.0):
        self.webhook, self.timeout = webhook, timeout
        self.secrets = Secrets()
        self.secrets.add(webhook, *parse_qs(urlparse(webhook).query).get("key", []))

    def __repr__(self) -> str:
        return f"WeComChannel({urlparse(self.webhook).hostname})"

    def send(self, message: Message) -> None:
        body = json.dumps({"msgtype": "markdown", "markdown": {"content": _fit(message.markdown)}},
                          ensure_ascii=False).encode("utf-8")
        req = urllib.request.Request(self.webhook, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                payload = resp.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as exc:
            raise DeliveryError(self.secrets.mask(f"WeCom webhook answered HTTP {exc.code} {exc.reason}")) from None
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryError(self.secrets.mask(f"WeCom webhook unreachable: {exc}")) from None
        try:
            answer = json.loads(payload)
        except ValueError:
            raise DeliveryError(self.secrets.mask(f"WeCom webhook answered non-JSON: {payload[:200]!r}")) from None
        if answer.get("errcode") != 0:
            raise DeliveryError(self.secrets.mask(f"WeCom rejected the message: errcode={answer.get('errcode')} "
                                                  f"errmsg={answer.get('errmsg')!r}"))


@register("wecom")
def from_env(env: Mapping[str, str]) -> WeComChannel | None:
    url = env.get("AQUANT_WECOM_WEBHOOK")
    return WeComChannel(url, timeout=float(env.get("AQUANT_NOTIFY_TIMEOUT") or 10)) if url else None
