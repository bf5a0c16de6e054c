"""A member's contact preferences and consent, and the unsubscribe link.

Email and name are sealed with AES-GCM under a key derived for this purpose, with the user id as
associated data: the database never holds them in clear, and a sealed value copied into another
member's row does not open. Writers lock the member's row (``SELECT ... FOR UPDATE`` on
PostgreSQL; the write session's ``BEGIN IMMEDIATE`` already serialises them on SQLite); the
entrypoint commits.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.crypto import derive_key, seal, unseal
from aimall_cart.errors import NotFound
from aimall_cart.privacy.models import Preferences
from aimall_cart.privacy.schemas import DEFAULT_CHANNELS, PreferencesIn

SEAL_PURPOSE = "preferences"
UNSUBSCRIBE_PURPOSE = "unsubscribe"
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


def _seal_key(data_key: str) -> bytes:
    return derive_key(data_key, purpose=SEAL_PURPOSE)


def _sealed(value: str | None, *, key: bytes, user_id: str) -> bytes | None:
    if value is None:
        return None
    return seal(value.encode(), key=key, context=user_id.encode())


def _opened(sealed: bytes | None, *, key: bytes, user_id: str) -> str | None:
    if sealed is None:
        return None
    return unseal(sealed, key=key, context=user_id.encode()).decode()


def _contact_of(row: Preferences, key: bytes) -> Contact:
    return Contact(
        user_id=row.user_id,
        marketing_consent=row.marketing_consent,
        email=_opened(row.email_sealed, key=key, user_id=row.user_id),
        name=_opened(row.name_sealed, key=key, user_id=row.user_id),
        channels=tuple(row.channels),
        timezone=row.timezone,
    )


async def read(session: AsyncSession, *, data_key: str, user_id: str) -> PreferencesView:
    """The member's preferences, or the defaults when they have stored none."""
    row = await session.get(Preferences, user_id)
    if row is None:
        return PreferencesView(_default_contact(user_id), None, None)
    return PreferencesView(
        _contact_of(row, _seal_key(data_key)), row.consent_updated_at, row.updated_at
    )


async def save(
    session: AsyncSession, *, data_key: str, user_id: str, choice: PreferencesIn, now: datetime
) -> PreferencesView:
    """Replace the whole document. Saving what is already stored writes nothing, and
    ``consent_updated_at`` moves only when the consent itself changes: it is the consent record."""
    key = _seal_key(data_key)
    row = await _locked_row(session, user_id, now=now)
    wanted = Contact(
        user_id=user_id,
        marketing_consent=choice.marketing_consent,
        email=choice.email,
        name=choice.name,
        channels=tuple(choice.channels),
        timezone=choice.timezone,
    )
    if _contact_of(row, key) != wanted:
        if row.marketing_consent != wanted.marketing_consent:
            row.consent_updated_at = now
        row.marketing_consent = wanted.marketing_consent
        row.email_sealed = _sealed(wanted.email, key=key, user_id=user_id)
        row.name_sealed = _sealed(wanted.name, key=key, user_id=user_id)
        row.channels = list(wanted.channels)
        row.timezone = wanted.timezone
        row.updated_at = now
    return PreferencesView(wanted, row.consent_updated_at, row.updated_at)


async def unsubscribe(session: AsyncSession, *, data_key: str, token: str, now: datetime) -> None:
    """Withdraw the consent of the member the token names, creating their row if need be."""
    user_id = user_of_token(data_key, token)
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
    session: AsyncSession, *, data_key: str, user_ids: Collection[str]
) -> dict[str, Contact]:
    """The contacts of many members in one query. Every id asked for has an entry: a member who
    stored nothing has the defaults, and so no consent."""
    wanted = set(user_ids)
    if not wanted:
        return {}
    key = _seal_key(data_key)
    rows = await session.scalars(select(Preferences).where(Preferences.user_id.in_(wanted)))
    found = {row.user_id: _contact_of(row, key) for row in rows}
    return {user_id: found.get(user_id) or _default_contact(user_id) for user_id in wanted}


def _mac(data_key: str, message: bytes) -> bytes:
    key = derive_key(data_key, purpose=UNSUBSCRIBE_PURPOSE)
    return hmac.new(key, message, hashlib.sha256).digest()


def _base64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsubscribe_token(data_key: str, user_id: str) -> str:
    """The user id and its MAC, base64url. It never expires: a link in an old message must keep
    working, and all it can do is withdraw consent."""
    member = user_id.encode()
    return _base64url(member + _mac(data_key, member))


def unsubscribe_url(base_url: str, data_key: str, user_id: str) -> str:
    return f"{base_url.rstrip('/')}/v1/unsubscribe?token={unsubscribe_token(data_key, user_id)}"


def user_of_token(data_key: str, token: str) -> str:
    """The user id a token names; any other spelling of a valid token is refused too."""
    refused = InvalidUnsubscribeToken("This unsubscribe link is not valid")
    if len(token) > _MAX_TOKEN_LENGTH or not token.isascii():
        raise refused
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise refused from None
    member, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    if (
        _base64url(raw) != token
        or not member
        or not hmac.compare_digest(mac, _mac(data_key, member))
    ):
        raise refused
    return member.decode()
