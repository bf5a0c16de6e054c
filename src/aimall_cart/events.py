"""The outbox: effects recorded in the same transaction as the change that caused them.

``emit`` only writes a row; the worker delivers it at least once (see ``delivery``), so a handler
must tolerate a repeat, which it can tell by the event ``id``.

Payloads carry personal data (addresses, names in message text, payment references), so every
payload is sealed at rest under the data key ring with the event id as associated data:
``{"sealed": "ak1.<kid>...."}``. ``person`` says whom an event is about (``user:<id>`` or
``guest:<token hash>``), so erasure finds a person's events without opening every payload.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import CheckConstraint, Index, Row, String, Text, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from aimall_cart.crypto import KeyRing
from aimall_cart.db import Base
from aimall_cart.rotation import Resealer

PAYLOAD_PURPOSE = "outbox"


class OutboxEvent(Base):
    __tablename__ = "outbox_events"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'dead')", name="status"),
        Index("ix_outbox_events_due", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    person: Mapped[str | None] = mapped_column(String(200), index=True)


def seal_payload(keys: KeyRing, event_id: uuid.UUID, payload: dict[str, Any]) -> dict[str, Any]:
    text = orjson.dumps(payload).decode()
    return {"sealed": keys.seal(text, purpose=PAYLOAD_PURPOSE, context=str(event_id))}


def open_payload(keys: KeyRing, event_id: uuid.UUID, stored: dict[str, Any]) -> dict[str, Any]:
    """The payload in clear; a payload from before sealing is returned as it is. Raises
    ``crypto.Unreadable`` when no key of the ring opens it."""
    sealed = stored.get("sealed")
    if not isinstance(sealed, str) or len(stored) != 1:
        return stored
    opened: dict[str, Any] = orjson.loads(
        keys.open(sealed, purpose=PAYLOAD_PURPOSE, context=str(event_id))
    )
    return opened


def _reseal(keys: KeyRing, row: Row[Any]) -> dict[str, Any]:
    sealed = row.payload.get("sealed")
    if isinstance(sealed, str) and len(row.payload) == 1 and keys.is_current(sealed):
        return {}
    return {"payload": seal_payload(keys, row.id, open_payload(keys, row.id, row.payload))}


RESEALER = Resealer(OutboxEvent, ("payload",), _reseal)


def emit(
    session: AsyncSession,
    event_type: str,
    payload: dict[str, Any],
    *,
    keys: KeyRing,
    person: str | None,
    now: datetime,
) -> OutboxEvent:
    event_id = uuid.uuid4()
    event = OutboxEvent(
        id=event_id,
        type=event_type,
        payload=seal_payload(keys, event_id, payload),
        person=person,
        status="pending",
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(event)
    return event


async def emit_many(
    session: AsyncSession,
    effects: Sequence[tuple[str, dict[str, Any], str | None]],
    *,
    keys: KeyRing,
    now: datetime,
) -> None:
    """``emit`` for many effects (type, payload, person) at once, in one INSERT."""
    if not effects:
        return
    rows = []
    for event_type, payload, person in effects:
        event_id = uuid.uuid4()
        rows.append(
            {
                "id": event_id,
                "type": event_type,
                "payload": seal_payload(keys, event_id, payload),
                "person": person,
                "status": "pending",
                "attempts": 0,
                "created_at": now,
                "next_attempt_at": now,
            }
        )
    await session.execute(insert(OutboxEvent), rows)


async def purge_settled(session: AsyncSession, *, created_before: datetime, limit: int) -> int:
    """Delivered and dead events created before ``created_before`` (their payloads are copies of
    messages and orders), oldest first, up to ``limit``; how many went."""
    ids = list(
        await session.scalars(
            select(OutboxEvent.id)
            .where(OutboxEvent.status != "pending", OutboxEvent.created_at < created_before)
            .order_by(OutboxEvent.created_at)
            .limit(limit)
        )
    )
    if ids:
        await session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(ids)))
    return len(ids)


def member(user_id: str) -> str:
    return f"user:{user_id}"


def guest(token_hash: str) -> str:
    return f"guest:{token_hash}"
