"""A member's contact preferences and consent, and the unsubscribe link.

Email and name are sealed under the data key ring (``crypto.KeyRing``) with the user id as
associated data: the database never holds them in clear, and a sealed value copied into another
member's row does not open. A value no key of the ring opens reads as absent (and is logged
by key id), never as an error: the member can store it again. Writers lock the member's row
(``SELECT ... FOR UPDATE`` on PostgreSQL; the write session's ``BEGIN IMMEDIATE`` already
serialises them on SQLite); the entrypoint commits.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.crypto import KeyRing, Unreadable, key_id_of, mac, mac_matches
from aimall_cart.errors import NotFound
from aimall_cart.privacy.models import Preferences
from aimall_cart.privacy.schemas import DEFAULT_CHANNELS, PreferencesIn
from aimall_cart.rotation import Resealer

SEAL_PURPOSE = "preferences"
UNSUBSCRIBE_PURPOSE = "unsubscribe"
log = logging.getLogger("aimall_cart.privacy")
_MAC_BYTES = 32  # HMAC-SHA256
# A user id of up to 128 characters is at most 512 bytes of UTF-8; with its MAC, under 800 in
# base64. Longer strings are refused before any decoding.
_MAX_TOKEN_LENGTH = 800


class InvalidUnsubscribeToken(NotFound):
    code = "invalid_unsubscribe_token"


@dataclass(frozen=True, slots=True)
class Contact:
    """How a member may be reached, in clear; recovery messages only those who consent."""

    user_id: str
    marketing_consent: bool
    email: str | None
    name: str | None
    channels: tuple[str, ...]
    timezone: str | None


@dataclass(frozen=True, slots=True)
class PreferencesView:
    contact: Contact
    consent_updated_at: datetime | None
    updated_at: datetime | None


def _default_contact(user_id: str) -> Contact:
    # Private by default: no consent until the member gives it.
    return Contact(user_id, False, None, None, DEFAULT_CHANNELS, None)


def seal_field(keys: KeyRing, value: str | None, *, user_id: str) -> bytes | None:
    if value is None:
        return None
    return keys.seal(value, purpose=SEAL_PURPOSE, context=user_id).encode()


def _opened(keys: KeyRing, sealed: bytes, *, user_id: str) -> str:
    """Raises ``Unreadable`` when no key of the ring opens it."""
    if key_id_of(sealed) is None:
        return keys.open_legacy(sealed, purpose=SEAL_PURPOSE, context=user_id)
    return keys.open(sealed.decode("ascii"), purpose=SEAL_PURPOSE, context=user_id)


def open_field(keys: KeyRing, sealed: bytes | None, *, user_id: str) -> str | None:
    """The field in clear; None when absent or when no key of the ring opens it."""
    if sealed is None:
        return None
    try:
        return _opened(keys, sealed, user_id=user_id)
    except Unreadable as error:
        log.warning("a stored preference cannot be read: %s", error)
        return None


def _reseal(keys: KeyRing, row: Row[Any]) -> dict[str, Any]:
    return {
        column: seal_field(keys, _opened(keys, stored, user_id=row.user_id), user_id=row.user_id)
        for column in SEALED_COLUMNS
        if not keys.is_current(stored := getattr(row, column))
    }


SEALED_COLUMNS = ("email_sealed", "name_sealed")
RESEALER = Resealer(Preferences, SEALED_COLUMNS, _reseal)


def _contact_of(row: Preferences, keys: KeyRing) -> Contact:
    return Contact(
        user_id=row.user_id,
        marketing_consent=row.marketing_consent,
        email=open_field(keys, row.email_sealed, user_id=row.user_id),
        name=open_field(keys, row.name_sealed, user_id=row.user_id),
        channels=tuple(row.channels),
        timezone=row.timezone,
    )


async def read(session: AsyncSession, *, keys: KeyRing, user_id: str) -> PreferencesView:
    """The member's preferences, or the defaults when they have stored none."""
    row = await session.get(Preferences, user_id)
    if row is None:
        return PreferencesView(_default_contact(user_id), None, None)
    return PreferencesView(_contact_of(row, keys), row.consent_updated_at, row.updated_at)


async def save(
    session: AsyncSession, *, keys: KeyRing, user_id: str, choice: PreferencesIn, now: datetime
) -> PreferencesView:
    """Replace the whole document. Saving what is already stored writes nothing, and
    ``consent_updated_at`` moves only when the consent itself changes: it is the consent record."""
    row = await _locked_row(session, user_id, now=now)
    wanted = Contact(
        user_id=user_id,
        marketing_consent=choice.marketing_consent,
        email=choice.email,
        name=choice.name,
        channels=tuple(choice.channels),
        timezone=choice.timezone,
    )
    if _contact_of(row, keys) != wanted:
        if row.marketing_consent != wanted.marketing_consent:
            row.consent_updated_at = now
        row.marketing_consent = wanted.marketing_consent
        row.email_sealed = seal_field(keys, wanted.email, user_id=user_id)
        row.name_sealed = seal_field(keys, wanted.name, user_id=user_id)
        row.channels = list(wanted.channels)
        row.timezone = wanted.timezone
        row.updated_at = now
    return PreferencesView(wanted, row.consent_updated_at, row.updated_at)


async def unsubscribe(session: AsyncSession, *, keys: KeyRing, token: str, now: datetime) -> None:
    """Withdraw the consent of the member the token names, creating their row if need be."""
    user_id = user_of_token(keys, token)
    row = await _locked_row(session, user_id, now=now)
    if row.marketing_consent:
        row.marketing_consent = False
        row.consent_updated_at = now
        row.updated_at = now


async def _locked_row(session: AsyncSession, user_id: str, *, now: datetime) -> Preferences:
    """The member's row, locked; a new one with the defaults when there was none."""
    row = await session.get(Preferences, user_id, with_for_update=True)
    if row is not None:
        return row
    row = Preferences(
        user_id=user_id, marketing_consent=False, channels=list(DEFAULT_CHANNELS), updated_at=now
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # A concurrent request inserted it first; once it commits the row is visible to lock.
        existing = await session.get(Preferences, user_id, with_for_update=True)
        if existing is None:
            raise
        return existing
    return row


async def contacts(
    session: AsyncSession, *, keys: KeyRing, user_ids: Collection[str]
) -> dict[str, Contact]:
    """The contacts of many members in one query. Every id asked for has an entry: a member who
    stored nothing has the defaults, and so no consent."""
    wanted = set(user_ids)
    if not wanted:
        return {}
    rows = await session.scalars(select(Preferences).where(Preferences.user_id.in_(wanted)))
    found = {row.user_id: _contact_of(row, keys) for row in rows}
    return {user_id: found.get(user_id) or _default_contact(user_id) for user_id in wanted}


def _base64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsubscribe_token(keys: KeyRing, user_id: str) -> str:
    """The user id and its MAC under the primary key, base64url. It never expires: a link in an
    old message keeps working while the key that signed it stays in the ring, and all it can do
    is withdraw consent."""
    member = user_id.encode()
    return _base64url(member + mac(keys, member, purpose=UNSUBSCRIBE_PURPOSE))


def unsubscribe_url(base_url: str, keys: KeyRing, user_id: str) -> str:
    return f"{base_url.rstrip('/')}/v1/unsubscribe?token={unsubscribe_token(keys, user_id)}"


def user_of_token(keys: KeyRing, token: str) -> str:
    """The user id a token names; any other spelling of a valid token is refused too."""
    refused = InvalidUnsubscribeToken("This unsubscribe link is not valid")
    if len(token) > _MAX_TOKEN_LENGTH or not token.isascii():
        raise refused
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise refused from None
    member, tag = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    if (
        _base64url(raw) != token
        or not member
        or not mac_matches(keys, member, tag, purpose=UNSUBSCRIBE_PURPOSE)
    ):
        raise refused
    return member.decode()
