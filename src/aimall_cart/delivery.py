"""Delivering outbox events at least once. Every event goes to the structured log, then to its
channel by type: ``order.*`` to the order webhook; ``recovery.webhook`` to the recovery webhook,
in the same signed envelope under its own secret; ``recovery.email`` over SMTP. A channel with no
target configured counts as delivered once logged. An event of any other type is retried until it
is dead, so a misnamed event stays in the outbox to be found rather than vanishing.

A worker claims a batch in one short transaction by pushing each event's next attempt a lease
into the future, sends with no transaction open, then records the outcome. A worker that dies
between sending and recording leaves the lease to run out, and the event is sent again: a webhook
receiver tells repeats by ``X-Event-Id``, a mail server by the notification's ``Message-ID``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import select

from aimall_cart import mail
from aimall_cart.config import Settings
from aimall_cart.db import Database
from aimall_cart.events import OutboxEvent

log = logging.getLogger("aimall_cart.events")
MAX_BACKOFF = timedelta(hours=1)
ORDER_EVENTS = "order."  # the prefix of every event the order webhook receives


@dataclass(frozen=True, slots=True)
class Claimed:
    id: uuid.UUID
    type: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(settings: Settings, attempts: int) -> timedelta:
    """Exponential: base, then twice that, then four times, and so on, capped at an hour."""
    seconds = settings.webhook_backoff_base_seconds * 2 ** max(attempts - 1, 0)
    return min(timedelta(seconds=seconds), MAX_BACKOFF)


def envelope(event: Claimed) -> bytes:
    return orjson.dumps(
        {
            "id": str(event.id),
            "type": event.type,
            "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
            "data": event.payload,
        }
    )


async def _claim(
    database: Database, *, now: datetime, lease: timedelta, batch: int
) -> list[Claimed]:
    async with database.write_session() as session:
        events = list(
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.status == "pending", OutboxEvent.next_attempt_at <= now)
                .order_by(OutboxEvent.created_at)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        )
        for event in events:
            event.attempts += 1
            event.next_attempt_at = now + lease
        claimed = [Claimed(e.id, e.type, e.payload, e.attempts, e.created_at) for e in events]
        await session.commit()
    return claimed


async def _send(settings: Settings, http: httpx.AsyncClient, event: Claimed) -> str | None:
    """None when delivered, else why not."""
    body = envelope(event)
    log.info("event %s", body.decode())
    if event.type.startswith(ORDER_EVENTS):
        url, secret = settings.order_webhook_url, settings.order_webhook_secret
    elif event.type == mail.WEBHOOK_EVENT:
        url, secret = settings.recovery_webhook_url, settings.recovery_webhook_secret
    elif event.type == mail.EMAIL_EVENT:
        return await _email(settings, event)
    else:
        return f"no channel delivers events of type {event.type!r}"
    if not url:
        return None
    return await _post(settings, http, event, body, url=url, secret=secret)


async def _post(
    settings: Settings,
    http: httpx.AsyncClient,
    event: Claimed,
    body: bytes,
    *,
    url: str,
    secret: str,
) -> str | None:
    headers = {
        "Content-Type": "application/json",
        "X-Event-Id": str(event.id),
        "X-Event-Type": event.type,
        "X-Signature": signature(secret, body),
    }
    try:
        answer = await http.post(
            url, content=body, headers=headers, timeout=settings.webhook_timeout_seconds
        )
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        return f"{type(error).__name__}: {error}"
    return None if answer.is_success else f"HTTP {answer.status_code}"


async def _email(settings: Settings, event: Claimed) -> str | None:
    """What an error says is kept in the outbox and logged, so it never names the address."""
    if not settings.smtp_host:
        return None
    try:
        email = mail.read_email_payload(settings.data_key, event.payload)
        await mail.send(
            settings,
            to=email.to,
            subject=email.subject,
            body=email.body,
            unsubscribe_url=email.unsubscribe_url,
            message_id=mail.message_id(email.notification_id, settings.smtp_sender),
        )
    except ValueError as error:
        return f"unreadable email payload: {error}"
    except mail.SendFailed as error:
        return str(error)
    return None


async def _settle(
    database: Database, settings: Settings, event: Claimed, error: str | None, now: datetime
) -> None:
    async with database.write_session() as session:
        row = await session.get(OutboxEvent, event.id, with_for_update=True)
        if row is None or row.status != "pending":
            return
        if error is None:
            row.status, row.delivered_at, row.last_error = "delivered", now, None
        elif event.attempts >= settings.webhook_max_attempts:
            row.status, row.last_error = "dead", error
            log.error("event %s is dead after %d attempts: %s", event.id, event.attempts, error)
        else:
            row.next_attempt_at, row.last_error = now + backoff(settings, event.attempts), error
            log.warning("event %s attempt %d failed: %s", event.id, event.attempts, error)
        await session.commit()


async def deliver_due(
    database: Database,
    settings: Settings,
    http: httpx.AsyncClient,
    *,
    now: datetime,
    limit: int = 200,
) -> int:
    """Send the events that are due, up to ``limit``; answers how many were delivered.

    Events are claimed a few at a time, as many as can surely be sent within one lease (a post
    may take up to three timeouts: connect, write, read; an email is held to the same budget), so
    a slow receiver never lets a lease run out on an event still waiting its turn. Outcomes are
    dated by the tick's ``now``, which is at most a lease behind.
    """
    lease = timedelta(seconds=settings.outbox_lease_seconds)
    per_lease = int(settings.outbox_lease_seconds // (3 * settings.webhook_timeout_seconds))
    batch = max(1, min(50, per_lease))
    delivered = handled = 0
    while handled < limit:
        claimed = await _claim(database, now=now, lease=lease, batch=batch)
        for event in claimed:
            error = await _send(settings, http, event)
            await _settle(database, settings, event, error, now)
            delivered += error is None
        handled += len(claimed)
        if len(claimed) < batch:
            break
    return delivered
