"""The cart's ETag as a precondition: what every route that changes the cart reads from
``If-Match``, the cart's own routes and checkout's alike."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Header

from aimall_cart.carts import access

_ETAG = re.compile(r'^(?:W/)?"?(\d{1,18})"?$')
IfMatch = Annotated[str | None, Header(alias="If-Match")]


def expected_version(if_match: str | None) -> int | None:
    """The version ``If-Match`` names; ``*`` names none. One ETag only: a list is refused."""
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ETAG.match(if_match.strip())
    if match is None:
        raise access.VersionMismatch('If-Match must be the cart\'s ETag, such as "3"')
    return int(match.group(1))
