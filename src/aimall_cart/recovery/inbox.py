"""Reading sent notifications: the admin's log of what was sent and why, and a member's in-app
inbox. Pages are keyset pages on (sent_at, id), so a page never repeats or skips a row.

A message's subject and body may name the customer, so both are sealed at rest under the data
key ring, bound to the notification and the field (``seal_text``); they open on the way out. Text
no key of the ring opens reads as empty, logged by key id, never as an error.
"""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.crypto import KeyRing, Unreadable, key_id_of
from aimall_cart.errors import Invalid
from aimall_cart.recovery.models import Notification
from aimall_cart.rotation import Resealer

log = logging.getLogger("aimall_cart.recovery")
TEXT_PURPOSE = "notification"
SEALED_FIELDS = ("subject", "body")


class InvalidCursor(Invalid):
    code = "invalid_cursor"


def seal_text(keys: KeyRing, note_id: uuid.UUID, field: str, text: str) -> str:
    return keys.seal(text, purpose=TEXT_PURPOSE, context=f"{note_id}:{field}")


def _opened(keys: KeyRing, note_id: uuid.UUID, field: str, stored: str) -> str:
    """Text stored before sealing is returned as it is; raises ``Unreadable``."""
    if key_id_of(stored) is None:
        return stored
    return keys.open(stored, purpose=TEXT_PURPOSE, context=f"{note_id}:{field}")


def open_text(keys: KeyRing, note_id: uuid.UUID, field: str, stored: str) -> str:
    """The text in clear; empty when no key of the ring opens it."""
    try:
        return _opened(keys, note_id, field, stored)
    except Unreadable as error:
        log.warning("a notification's %s cannot be read: %s", field, error)
        return ""


def _reseal(keys: KeyRing, row: Row[Any]) -> dict[str, Any]:
    return {
        field: seal_text(keys, row.id, field, _opened(keys, row.id, field, stored))
        for field in SEALED_FIELDS
        if not keys.is_current(stored := getattr(row, field))
    }


RESEALER = Resealer(Notification, SEALED_FIELDS, _reseal)


def readable(note: Notification, keys: KeyRing) -> dict[str, Any]:
    """The notification's columns, its sealed text opened."""
    row = {column.key: getattr(note, column.key) for column in Notification.__mapper__.columns}
    return row | {field: open_text(keys, note.id, field, row[field]) for field in SEALED_FIELDS}


async def purge_sent(session: AsyncSession, *, sent_before: datetime, limit: int) -> int:
    """Messages sent before ``sent_before``, oldest first, up to ``limit``; how many went."""
    ids = list(
        await session.scalars(
            select(Notification.id)
            .where(Notification.sent_at < sent_before)
            .order_by(Notification.sent_at, Notification.id)
            .limit(limit)
        )
    )
    if ids:
        await session.execute(delete(Notification).where(Notification.id.in_(ids)))
    return len(ids)


def cursor_of(note: Notification) -> str:
    raw = f"{note.sent_at.isoformat()}|{note.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _position(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        sent_at, note_id = raw.split("|")
        position = datetime.fromisoformat(sent_at), uuid.UUID(note_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidCursor("The cursor is not one this service gave out") from error
    if position[0].tzinfo is None:
        raise InvalidCursor("The cursor is not one this service gave out")
    return position


async def sent(
    session: AsyncSession,
    *,
    cart_id: uuid.UUID | None = None,
    user_id: str | None = None,
    since: datetime | None = None,
    cursor: str | None = None,
    limit: int,
) -> Sequence[Notification]:
    """Oldest first, every channel: the admin's view."""
    stmt = select(Notification).order_by(Notification.sent_at, Notification.id).limit(limit)
    if cart_id is not None:
        stmt = stmt.where(Notification.cart_id == cart_id)
    if user_id is not None:
        stmt = stmt.where(Notification.user_id == user_id)
    if since is not None:
        stmt = stmt.where(Notification.sent_at >= since)
    if cursor is not None:
        at, after = _position(cursor)
        stmt = stmt.where(
            or_(
                Notification.sent_at > at, and_(Notification.sent_at == at, Notification.id > after)
            )
        )
    return list(await session.scalars(stmt))


async def in_app(
    session: AsyncSession, *, user_id: str, cursor: str | None, limit: int
) -> Sequence[Notification]:
    """Newest first, in-app messages only: the member's inbox."""
    stmt = (
        select(Notification)
        .where(Notification.user_id == user_id, Notification.channel == "in_app")
        .order_by(Notification.sent_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    if cursor is not None:
        at, before = _position(cursor)
        stmt = stmt.where(
            or_(
                Notification.sent_at < at,
                and_(Notification.sent_at == at, Notification.id < before),
            )
        )
    return list(await session.scalars(stmt))
