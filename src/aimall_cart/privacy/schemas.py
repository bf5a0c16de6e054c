"""Preferences and unsubscribe bodies."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, StringConstraints

Channel = Literal["in_app", "email", "webhook"]
DEFAULT_CHANNELS: tuple[Channel, ...] = ("in_app", "email")

MAX_EMAIL_LENGTH = 254  # RFC 5321's limit on a forward path, less its angle brackets
MAX_LOCAL_PART_LENGTH = 64
MAX_NAME_LENGTH = 100
MAX_TIMEZONE_LENGTH = 64  # the column's width

# A dot-atom local part and a domain of LDH labels with an alphabetic top level: what a mail
# server accepts in practice, without quoted local parts or address literals.
_LOCAL_PART = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
EMAIL_PATTERN = rf"^{_LOCAL_PART}@{_DOMAIN}$"


def _local_part_fits(email: str) -> str:
    if len(email.rpartition("@")[0]) > MAX_LOCAL_PART_LENGTH:
        raise ValueError(f"the part before @ must be at most {MAX_LOCAL_PART_LENGTH} characters")
    return email


def _printable(name: str) -> str:
    # Stricter than fields.Text: a name goes into message bodies and headers, so no line breaks.
    if not name.isprintable():
        raise ValueError("must contain only printable characters")
    return name


@cache
def _known_zones() -> frozenset[str]:
    # Checked against the list rather than by opening ZoneInfo(name), so a caller's string never
    # becomes a path on the zone search path.
    return frozenset(available_timezones())


def _known_zone(name: str) -> str:
    if name not in _known_zones():
        raise ValueError("must be an IANA time zone name, such as Europe/Paris")
    return name


def _distinct(channels: list[Channel]) -> list[Channel]:
    if len(set(channels)) != len(channels):
        raise ValueError("each channel may appear once")
    return channels


Email = Annotated[
    str,
    StringConstraints(max_length=MAX_EMAIL_LENGTH, pattern=EMAIL_PATTERN),
    AfterValidator(_local_part_fits),
]
PersonName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH, strip_whitespace=True),
    AfterValidator(_printable),
]
TimeZone = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_TIMEZONE_LENGTH),
    AfterValidator(_known_zone),
    # The schema names the zones this server knows, so a client can offer exactly those.
    Field(json_schema_extra={"enum": sorted(_known_zones())}),
]
Channels = Annotated[
    list[Channel],
    Field(max_length=3, json_schema_extra={"uniqueItems": True}),
    AfterValidator(_distinct),
]


class PreferencesIn(BaseModel):
    """The whole document: a field left out goes back to its default."""

    model_config = ConfigDict(extra="forbid")

    # Strict: consent is a JSON true, never a "yes" or a 1 coerced into one.
    marketing_consent: Annotated[bool, Strict()]
    email: Email | None = None
    name: PersonName | None = None
    channels: Channels = Field(default_factory=lambda: list(DEFAULT_CHANNELS))
    timezone: TimeZone | None = None


class PreferencesOut(BaseModel):
    marketing_consent: bool
    email: str | None
    name: str | None
    channels: list[Channel]
    timezone: str | None
    consent_updated_at: datetime | None
    updated_at: datetime | None


class UnsubscribedOut(BaseModel):
    unsubscribed: Literal[True] = True


class ErasedOut(BaseModel):
    """How many of each kind were erased (orders: made nameless)."""

    erased: dict[str, int]
