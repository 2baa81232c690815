"""E-mail through an SMTP server (STARTTLS, implicit TLS or plain), settings from AQUANT_SMTP_*."""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Mapping

from .channels import DeliveryError, Message, Secrets, register

TLS_MODES = ("starttls", "ssl", "none")


class EmailChannel:
    """Sends each message as one UTF-8 e-mail to every address in AQUANT_SMTP_TO."""

    name = "email"

    def __init__(self, host: str, port: int, sender: str, to: list[str], user: str | None = None,
                 password: str | None = None, tls: str = "starttls", timeout: float = 20.0,
                 cafile: str | None = None):
        if tls not in TLS_MODES:
            raise ValueError(f"AQUANT_SMTP_TLS must be one of {', '.join(TLS_MODES)}, got {tls!r}")
        self.host, self.port, self.sender, self.to = host, port, sender, to
        self.user, self._password, self.tls, self.timeout, self.cafile = user, password, tls, timeout, cafile
        self.secrets = Secrets()
        self.secrets.add(password)

    def __repr__(self) -> str:  # never shows the password
        return f"EmailChannel({self.host}:{self.port}, tls={self.tls}, to={len(self.to)} address(es))"

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cafile)

    def send(self, message: Message) -> None:
        msg = EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = message.subject, self.sender, ", ".join(self.to)
        msg["Date"], msg["Message-ID"] = formatdate(localtime=False), make_msgid(domain="aquant")
        msg.set_content(message.text, charset="utf-8")
        try:
            if self.tls == "ssl":
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.tls == "starttls":
                    smtp.starttls(context=self._context())
                if self.user:
                    smtp.login(self.user, self._password or "")
                refused = smtp.send_message(msg)
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise DeliveryError(
                self.secrets.mask(f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {exc}")) from None
        if refused:
            raise DeliveryError(f"SMTP {self.host}:{self.port} refused {', '.join(sorted(refused))}")


@register("email")
def from_env(env: Mapping[str, str]) -> EmailChannel | None:
    """Configured when AQUANT_SMTP_HOST and AQUANT_SMTP_TO are set."""
    host, to = env.get("AQUANT_SMTP_HOST"), env.get("AQUANT_SMTP_TO")
    if not host or not to:
        return None
    tls = env.get("AQUANT_SMTP_TLS", "starttls").strip().lower()
    default_port = {"ssl": 465, "starttls": 587}.get(tls, 25)
    user = env.get("AQUANT_SMTP_USER") or None
    return EmailChannel(host=host, port=int(env.get("AQUANT_SMTP_PORT") or default_port),
                        sender=env.get("AQUANT_SMTP_FROM") or user or "aquant@localhost",
                        to=[a.strip() for a in to.split(",") if a.strip()], user=user,
                        password=env.get("AQUANT_SMTP_PASSWORD") or None, tls=tls,
                        timeout=float(env.get("AQUANT_NOTIFY_TIMEOUT") or 20),
                        cafile=env.get("AQUANT_SMTP_CAFILE") or None)
