"""Field types shared by the HTTP schemas: bounded, printable, and safe for both databases."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, Strict, StringConstraints

MAX_MONEY = 1_000_000_000
MAX_STOCK = 1_000_000_000
MAX_QUANTITY = 1_000_000


def _without_control_characters(value: str) -> str:
    # PostgreSQL refuses NUL in text, and no name or option needs control characters.
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        raise ValueError("must not contain control characters")
    return value


Text = Annotated[str, AfterValidator(_without_control_characters)]
CatalogId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")
]
Name = Annotated[Text, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
# Strict: a JSON ``true`` or ``"2"`` is not a number of anything.
Money = Annotated[int, Strict(), Field(ge=0, le=MAX_MONEY)]
Stock = Annotated[int, Strict(), Field(ge=0, le=MAX_STOCK)]
Quantity = Annotated[int, Strict(), Field(ge=0, le=MAX_QUANTITY)]
OptionName = Annotated[Text, StringConstraints(min_length=1, max_length=64)]
OptionValue = Annotated[Text, StringConstraints(min_length=1, max_length=128)]
Options = Annotated[dict[OptionName, OptionValue], Field(max_length=16)]
