"""The outbox: effects recorded in the same transaction as the change that caused them.

``emit`` only writes a row; the worker delivers it at least once (see ``delivery``), so a handler
must tolerate a repeat, which it can tell by the event ``id``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, Text, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from aimall_cart.db import Base


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


def emit(
    session: AsyncSession, event_type: str, payload: dict[str, Any], *, now: datetime
) -> OutboxEvent:
    event = OutboxEvent(
        id=uuid.uuid4(),
        type=event_type,
        payload=payload,
        status="pending",
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(event)
    return event


async def emit_many(
    session: AsyncSession, effects: list[tuple[str, dict[str, Any]]], *, now: datetime
) -> None:
    """``emit`` for many effects at once, in one INSERT."""
    if not effects:
        return
    rows = [
        {
            "id": uuid.uuid4(),
            "type": event_type,
            "payload": payload,
            "status": "pending",
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
        }
        for event_type, payload in effects
    ]
    await session.execute(insert(OutboxEvent), rows)
