"""Delivering outbox events at least once. Every attempt goes to the structured log by event id
and type only (a payload may name a person), then to the channel its feature registered for its
type (``register``): an exact type, or a prefix ending in a dot (``"order."``), the longest match
winning. The kernel names no feature: features register their channels when the entrypoint that
runs the worker imports them. A channel with no target configured counts an event as delivered.
An event of a type no channel takes is retried until it is dead, so a misnamed event stays in
the outbox to be found rather than vanishing.

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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import select

from aimall_cart.config import Settings
from aimall_cart.crypto import KeyRing, Unreadable
from aimall_cart.db import Database
from aimall_cart.events import OutboxEvent, open_payload

log = logging.getLogger("aimall_cart.events")
MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: uuid.UUID
    type: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    # Why the payload could not be opened (its key left the ring); such an event is not sent.
    unreadable: str | None = None


# Sends one claimed event; answers None when it was delivered, else why not.
Channel = Callable[[Settings, httpx.AsyncClient, "Claimed"], Awaitable[str | None]]
_CHANNELS: dict[str, Channel] = {}


def register(event_type: str, channel: Channel) -> None:
    """Deliver events of ``event_type`` (or, ending in a dot, of every type it prefixes) through
    ``channel``. Registering a type again replaces its channel."""
    _CHANNELS[event_type] = channel


def channel_for(event_type: str) -> Channel | None:
    if (exact := _CHANNELS.get(event_type)) is not None:
        return exact
    prefixes = [p for p in _CHANNELS if p.endswith(".") and event_type.startswith(p)]
    return _CHANNELS[max(prefixes, key=len)] if prefixes else None


def signed_webhook(
    url: Callable[[Settings], str | None], secret: Callable[[Settings], str]
) -> Channel:
    """A channel that POSTs each event's envelope to the URL a setting names, signed with the
    secret another names (``post_signed``)."""

    async def send(settings: Settings, http: httpx.AsyncClient, event: Claimed) -> str | None:
        return await post_signed(settings, http, event, url=url(settings), secret=secret(settings))

    return send


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


def _claimed(event: OutboxEvent, keys: KeyRing) -> Claimed:
    try:
        payload = open_payload(keys, event.id, event.payload)
    except Unreadable as error:
        return Claimed(event.id, event.type, {}, event.attempts, event.created_at, str(error))
    return Claimed(event.id, event.type, payload, event.attempts, event.created_at)


async def _claim(
    database: Database, keys: KeyRing, *, now: datetime, lease: timedelta, batch: int
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
        claimed = [_claimed(event, keys) for event in events]
        await session.commit()
    return claimed


async def _send(settings: Settings, http: httpx.AsyncClient, event: Claimed) -> str | None:
    """None when delivered, else why not. The log names the event, never its payload, which
    may name a person."""
    log.info("event %s %s attempt %d", event.id, event.type, event.attempts)
    if event.unreadable is not None:
        return f"unreadable payload: {event.unreadable}"
    channel = channel_for(event.type)
    if channel is None:
        return f"no channel delivers events of type {event.type!r}"
    return await channel(settings, http, event)


async def post_signed(
    settings: Settings,
    http: httpx.AsyncClient,
    event: Claimed,
    *,
    url: str | None,
    secret: str,
) -> str | None:
    """POST the event's envelope to ``url``, signed with ``secret``; no URL: delivered by the log
    alone. Receivers tell repeats by ``X-Event-Id``."""
    if not url:
        return None
    body = envelope(event)
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

    A background job's use case, so it commits itself: each batch's claim in one short
    transaction, each event's outcome in another; nothing is sent inside a transaction.
    """
    lease = timedelta(seconds=settings.outbox_lease_seconds)
    per_lease = int(settings.outbox_lease_seconds // (3 * settings.webhook_timeout_seconds))
    batch = max(1, min(50, per_lease))
    delivered = handled = 0
    while handled < limit:
        claimed = await _claim(database, settings.keys, now=now, lease=lease, batch=batch)
        for event in claimed:
            error = await _send(settings, http, event)
            await _settle(database, settings, event, error, now)
            delivered += error is None
        handled += len(claimed)
        if len(claimed) < batch:
            break
    return delivered
