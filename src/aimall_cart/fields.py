"""Field types shared by the HTTP schemas: bounded, printable, and safe for both databases."""

from __future__ import annotations

import unicodedata
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, AwareDatetime, Field, Strict, StringConstraints

MAX_MONEY = 1_000_000_000
MAX_STOCK = 1_000_000_000
MAX_QUANTITY = 1_000_000


def _without_control_characters(value: str) -> str:
    # PostgreSQL refuses NUL in text, and no name or option needs control characters.
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _on_one_line(value: str) -> str:
    # Names and options go into message bodies and mail headers: a line break there is injection.
    if any(unicodedata.category(ch) in _LINE_BREAKING for ch in value):
        raise ValueError("must be one line, without control characters")
    return value


_LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})
_WEB_SCHEMES = frozenset({"http", "https"})


def _web_address(value: str) -> str:
    # Shown as <img src> by storefronts and mail: javascript:, data: and friends run there.
    parts = urlsplit(value)
    if (
        parts.scheme.lower() not in _WEB_SCHEMES
        or not parts.hostname
        or any(ch.isspace() or not ch.isprintable() or ch == "\\" for ch in value)
    ):
        raise ValueError("must be an absolute http:// or https:// URL")
    return value


Text = Annotated[str, AfterValidator(_without_control_characters)]
Line = Annotated[str, AfterValidator(_on_one_line)]
WebUrl = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_web_address)]
CatalogId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")
]
Name = Annotated[Line, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
# Strict: a JSON ``true`` or ``"2"`` is not a number of anything.
Money = Annotated[int, Strict(), Field(ge=0, le=MAX_MONEY)]
Stock = Annotated[int, Strict(), Field(ge=0, le=MAX_STOCK)]
Quantity = Annotated[int, Strict(), Field(ge=0, le=MAX_QUANTITY)]
OptionName = Annotated[Line, StringConstraints(min_length=1, max_length=64)]
OptionValue = Annotated[Line, StringConstraints(min_length=1, max_length=128)]
Options = Annotated[dict[OptionName, OptionValue], Field(max_length=16)]
# A moment the caller names must say its offset: a naive time means something else in every zone.
Moment = AwareDatetime
