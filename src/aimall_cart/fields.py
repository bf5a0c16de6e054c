"""Field types shared by the HTTP schemas: bounded, printable, and safe for both databases."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BeforeValidator,
    Field,
    Strict,
    StringConstraints,
)

MAX_MONEY = 1_000_000_000
MAX_STOCK = 1_000_000_000
MAX_QUANTITY = 1_000_000


# The rules are patterns, so that the OpenAPI schema states exactly what is accepted.
# PostgreSQL refuses NUL in text, and no text needs control characters other than tab and breaks.
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
# Names and options go into message bodies and mail headers: a line break there is injection.
# So: no control characters (Unicode Cc), no line or paragraph separators (Zl, Zp), and no
# bidirectional overrides, which make a name read differently from what it is.
LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*$"
# Shown as <img src> by storefronts and mail, where javascript:, data: and friends would run:
# an absolute http(s) URL with a host, in printable ASCII without backslashes.
WEB_URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?([/?#][!-\[\]-~]*)?$"

Text = Annotated[str, StringConstraints(pattern=TEXT_PATTERN)]
Line = Annotated[str, StringConstraints(pattern=LINE_PATTERN)]
WebUrl = Annotated[str, StringConstraints(max_length=2000, pattern=WEB_URL_PATTERN)]
CatalogId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")
]
Name = Annotated[Line, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


# Strict: a JSON ``true``, ``"2"`` or ``2.0`` is not a number of anything.
Money = Annotated[int, Strict(), Field(ge=0, le=MAX_MONEY)]
Stock = Annotated[int, Strict(), Field(ge=0, le=MAX_STOCK)]
Quantity = Annotated[int, Strict(), Field(ge=0, le=MAX_QUANTITY)]
OptionName = Annotated[Line, StringConstraints(min_length=1, max_length=64)]
OptionValue = Annotated[Line, StringConstraints(min_length=1, max_length=128)]
Options = Annotated[dict[OptionName, OptionValue], Field(max_length=16)]
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})$"
)


def _rfc3339(value: object) -> object:
    # Not a number of seconds and not a bare date: the one spelling the contract names.
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 time with its offset, such as 2026-11-28T09:00:00Z")
    return value


# A moment the caller names must say its offset: a naive time means something else in every zone.
Moment = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]
