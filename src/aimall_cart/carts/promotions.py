"""Single-use promotion codes: issued by recovery to one customer, applied to that customer's open
cart, and redeemed by the one order that uses them.

Applying or removing a code is a cart change like any other: it locks the cart row, honours
``If-Match`` and bumps the version. Redeeming is one conditional update in the transaction that
places the order, so a code pays for one order at most, whatever the races. Entrypoints commit.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.auth import Principal
from aimall_cart.carts import access
from aimall_cart.carts.models import DiscountCode
from aimall_cart.errors import Conflict, Invalid

CODE_PREFIX = "SAVE-"
# Crockford's base32: digits and capitals without I, L, O or U, so a code read aloud or copied
# from an email by hand survives.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_RANDOM_CHARACTERS = 12  # 60 random bits: not guessable, and collisions are negligible
# Crockford's decoding: the letters a reader takes for digits are those digits.
_LOOK_ALIKES = str.maketrans({"I": "1", "L": "1", "O": "0"})


class InvalidDiscountCode(Invalid):
    code = "invalid_discount_code"


class DiscountCodeUsed(Conflict):
    code = "discount_code_used"


def new_code() -> str:
    random_part = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_RANDOM_CHARACTERS))
    return CODE_PREFIX + random_part


def normalise(typed: str) -> str:
    """The code a shopper meant: any case, blanks around it, and Crockford's look-alike letters
    all name the same code."""
    text = typed.strip().upper()
    if not text.startswith(CODE_PREFIX):
        return text
    return CODE_PREFIX + text.removeprefix(CODE_PREFIX).translate(_LOOK_ALIKES)


class Grant(NamedTuple):
    """One code to issue: to whom, for which cart, and how much off."""

    user_id: str
    cart_id: uuid.UUID | None
    percent: int


async def issue_many(
    session: AsyncSession, grants: Sequence[Grant], *, expires_at: datetime, now: datetime
) -> list[str]:
    """New codes for many customers in one INSERT (a recovery pass sends thousands); the codes,
    in the order of ``grants``. ``percent`` is 1..100, which the table's CHECK enforces; the
    unique constraint on ``code`` is the backstop against the (negligible) chance of drawing a
    code twice."""
    if not grants:
        return []
    rows = [
        {
            "id": uuid.uuid4(),
            "code": new_code(),
            "user_id": grant.user_id,
            "issued_for_cart_id": grant.cart_id,
            "percent": grant.percent,
            "created_at": now,
            "expires_at": expires_at,
        }
        for grant in grants
    ]
    await session.execute(insert(DiscountCode), rows)
    return [str(row["code"]) for row in rows]


async def apply(
    session: AsyncSession,
    *,
    principal: Principal,
    code: str,
    expected_version: int | None,
    now: datetime,
) -> access.CartView | InvalidDiscountCode:
    """Apply the caller's code to their open cart, replacing any code applied before.

    A refusal is answered rather than raised: the attempt is counted on the cart (recovery reads
    refused codes as a sign that price holds the shopper back) and the entrypoint commits that
    count before it answers 422. A refused attempt changes nothing the shopper sees, so the
    version stays; it is still the shopper at work, so the cart's activity is fresh.
    """
    cart = await access.lock_for_change(
        session, principal, expected_version=expected_version, now=now
    )
    usable = await _usable(session, normalise(code), user_id=principal.user_id, now=now)
    if usable is None:
        cart.discount_attempts += 1
        cart.last_activity_at = cart.activity_mark = now
        await session.flush()
        return InvalidDiscountCode("This discount code is not valid")
    cart.discount_code_id = usable.id
    access.touch(cart, now)
    await session.flush()
    return await access.view(session, cart, now=now)


async def _usable(
    session: AsyncSession, code: str, *, user_id: str | None, now: datetime
) -> DiscountCode | None:
    """The caller's own unexpired, unused code. Another customer's code is looked for exactly as
    an unknown one is, so a refusal never tells whether a code exists."""
    if user_id is None:
        return None
    found = await session.scalar(
        select(DiscountCode).where(DiscountCode.code == code, DiscountCode.user_id == user_id)
    )
    if found is None or found.redeemed_at is not None or found.expires_at <= now:
        return None
    return found


async def remove(
    session: AsyncSession, *, principal: Principal, expected_version: int | None, now: datetime
) -> access.CartView:
    """Take the applied code off the cart (the code stays usable); with none applied, nothing
    changes."""
    cart = await access.lock_for_change(
        session, principal, expected_version=expected_version, now=now
    )
    if cart.discount_code_id is not None:
        cart.discount_code_id = None
        access.touch(cart, now)
        await session.flush()
    return await access.view(session, cart, now=now)


async def redeem(
    session: AsyncSession, *, code_id: uuid.UUID, order_id: uuid.UUID, now: datetime
) -> None:
    """Mark the code used by this order. One conditional update: of two transactions racing for
    the code, exactly one changes the row (PostgreSQL makes the other wait for it and re-check
    ``redeemed_at``), and the loser is refused, to be rolled back whole."""
    result = await session.execute(
        update(DiscountCode)
        .where(DiscountCode.id == code_id, DiscountCode.redeemed_at.is_(None))
        .values(redeemed_at=now, order_id=order_id)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise DiscountCodeUsed("This discount code has already been used")
