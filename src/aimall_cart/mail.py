"""Email that leaves through the outbox: its payload, and sending over SMTP.

The email payload is built and read here, so the feature that writes it and the channel that
delivers it share one shape. The outbox seals every payload at rest (``events``), the address
and the words with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import smtplib
import ssl
import time
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from aimall_cart.config import Settings

# A send gets the time budget the outbox lease assumes for a webhook post (connect, write, read).
SMTP_BUDGET_TIMEOUTS = 3


class SendFailed(Exception):
    """The server did not take the message. The description never carries the address."""


@dataclass(frozen=True, slots=True)
class Email:
    notification_id: str
    to: str = field(repr=False)
    subject: str
    body: str
    unsubscribe_url: str


def email_payload(
    *,
    notification_id: uuid.UUID | str,
    to: str,
    subject: str,
    body: str,
    unsubscribe_url: str,
) -> dict[str, str]:
    return {
        "notification_id": str(notification_id),
        "to": to,
        "subject": subject,
        "body": body,
        "unsubscribe_url": unsubscribe_url,
    }


def read_email_payload(payload: dict[str, Any]) -> Email:
    """The email an event carries; ValueError when it is not one."""
    required = ("notification_id", "to", "subject", "body", "unsubscribe_url")
    if any(not isinstance(payload.get(name), str) for name in required):
        raise ValueError(f"an email payload needs the text fields {', '.join(required)}")
    return Email(**{name: payload[name] for name in required})


def message_id(notification_id: str, sender: str) -> str:
    """Fixed per notification, so a message resent after a lost acknowledgement is the same
    message to the receiving server."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"<{notification_id}@{domain}>"


async def send(
    settings: Settings,
    *,
    to: str,
    subject: str,
    body: str,
    unsubscribe_url: str,
    message_id: str,
) -> None:
    """Hand one message to the configured SMTP server; raises SendFailed when it is not taken.

    smtplib blocks, so it runs in a thread. The original error is not chained: its text may
    hold the address, and a chained traceback would carry it into the logs.
    """
    if not settings.smtp_host:
        raise SendFailed("no SMTP host is configured")
    message = EmailMessage()
    try:
        message["From"] = settings.smtp_sender
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = message_id
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(body)
        await asyncio.to_thread(_transmit, settings, settings.smtp_host, message)
    except (OSError, ValueError) as error:  # smtplib's errors are OSErrors
        raise SendFailed(_without_address(f"{type(error).__name__}: {error}", to)) from None


def _transmit(settings: Settings, host: str, message: EmailMessage) -> None:
    deadline = time.monotonic() + SMTP_BUDGET_TIMEOUTS * settings.webhook_timeout_seconds
    smtp = _BoundedSMTP(host, settings.smtp_port, settings.webhook_timeout_seconds, deadline)
    try:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            if not settings.smtp_starttls:  # the password would cross the network in the clear
                raise smtplib.SMTPNotSupportedError("refusing to log in without STARTTLS")
            smtp.login(settings.smtp_username, settings.smtp_password or "")
        smtp.send_message(message)
    finally:
        # Not ``with``: its QUIT raises on a bad answer, which would undo a message already taken.
        with contextlib.suppress(OSError):
            smtp.quit()
        smtp.close()


class _BoundedSMTP(smtplib.SMTP):
    """Every command and every reply starts only while the deadline is ahead, and waits at
    most the timeout or what is left, so a server answering each step just in time cannot hold
    a send past its budget (and the outbox lease) by more than one wait."""

    def __init__(self, host: str, port: int, timeout: float, deadline: float) -> None:
        self._step_timeout, self._deadline = timeout, deadline
        super().__init__(host, port, timeout=self._time_left())

    def _time_left(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the SMTP exchange took longer than its time budget")
        return min(left, self._step_timeout)

    def send(self, s: Any) -> None:
        if self.sock is not None:
            self.sock.settimeout(self._time_left())
        super().send(s)

    def getreply(self) -> tuple[int, bytes]:
        if self.sock is not None:
            self.sock.settimeout(self._time_left())
        return super().getreply()


def _without_address(text: str, address: str) -> str:
    return re.sub(re.escape(address), "<recipient>", text, flags=re.IGNORECASE) if address else text
