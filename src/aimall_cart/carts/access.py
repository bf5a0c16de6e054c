"""The cart as the ORM paths (merge, promotion codes, checkout) see it: finding, locking and
creating it, and pricing it against the live catalog and its applied promotion code; and the
checks and the view that the hot path (``claims``, ``service``) shares with them.

The cart row is the lock for every change: ``find_open(lock=True)`` takes it with
``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the write session's ``BEGIN IMMEDIATE`` already
holds the database's write lock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from aimall_cart.auth import Principal
from aimall_cart.carts import journal, records, rules
from aimall_cart.carts.models import OPEN_STATUSES, Cart, DiscountCode, new_analytics_key
from aimall_cart.catalog import service as catalog
from aimall_cart.errors import Conflict, NotFound, PreconditionFailed
from aimall_cart.inventory import service as inventory


class CartNotFound(NotFound):
    code = "cart_not_found"


class ItemNotFound(NotFound):
    code = "item_not_found"


class CartLocked(Conflict):
    code = "cart_locked"


class VersionMismatch(PreconditionFailed):
    code = "version_mismatch"


@dataclass(frozen=True, slots=True)
class GuestCredential:
    """A freshly minted guest token and the keyed hash that is all the database keeps."""

    token: str
    token_hash: str


@dataclass(frozen=True, slots=True)
class CartPolicy:
    max_lines: int
    default_currency: str


@dataclass(slots=True)
class CartView:
    """A cart with the live offers of its variants, ready to render; ``created`` says the
    request made something new (the cart, or the line it added). The cart is an ORM object on
    the cold paths and a plain record on the hot path."""

    cart: Cart | records.CartRecord
    offers: dict[str, rules.Offer]
    status: str
    guest_token: str | None = None
    created: bool = False
    promotion: rules.Promotion | None = None


def owner_clause(principal: Principal) -> ColumnElement[bool] | None:
    if principal.user_id is not None:
        return Cart.user_id == principal.user_id
    if principal.cart_token_hash is not None:
        return Cart.guest_token_hash == principal.cart_token_hash
    return None


async def find_open(session: AsyncSession, principal: Principal, *, lock: bool) -> Cart | None:
    owner = owner_clause(principal)
    if owner is None:
        return None
    stmt = (
        select(Cart).options(selectinload(Cart.items)).where(owner, Cart.status.in_(OPEN_STATUSES))
    )
    if lock:
        stmt = stmt.with_for_update(of=Cart)
    return await session.scalar(stmt)


async def create(
    session: AsyncSession,
    principal: Principal,
    *,
    guest: GuestCredential,
    policy: CartPolicy,
    now: datetime,
    lock: bool = True,
) -> tuple[Cart, bool]:
    """A new open cart for the caller (``True``), or the member's that a concurrent request just
    made (``False``)."""
    is_guest = principal.user_id is None
    cart = Cart(
        id=uuid.uuid4(),
        user_id=principal.user_id,
        guest_token_hash=guest.token_hash if is_guest else None,
        status="active",
        currency=policy.default_currency,
        version=1,
        created_at=now,
        updated_at=now,
        last_activity_at=now,
        activity_mark=now,
        analytics_key=new_analytics_key(),
        items=[],
    )
    try:
        async with session.begin_nested():
            session.add(cart)
    except IntegrityError:
        # Another request created this member's open cart first; use that one.
        existing = await find_open(session, principal, lock=lock)
        if existing is None:
            raise
        return existing, False
    created = {**journal.stamp(now, cart.analytics_key), **journal.cart_created(cart.currency)}
    await session.execute(journal.LINE_EVENTS[1], created)
    return cart, True


async def lock_for_change(
    session: AsyncSession, principal: Principal, *, expected_version: int | None, now: datetime
) -> Cart:
    cart = await find_open(session, principal, lock=True)
    if cart is None:
        raise CartNotFound("There is no cart")
    check_changeable(cart, expected_version, now=now)
    return cart


def check_changeable(cart: Cart, expected_version: int | None, *, now: datetime) -> None:
    """Refuse a change to a cart at another version, or held by a checkout in progress. A
    checkout whose reservation lapsed no longer holds the cart: it is unlocked here and now."""
    refuse_change(cart, expected_version, now=now)
    if cart.status == "locked":
        cart.status, cart.locked_until = "active", None


def refuse_change(cart: CartState, expected_version: int | None, *, now: datetime) -> None:
    """Raise why the cart may not change: another version, or a checkout in progress."""
    if expected_version is not None and cart.version != expected_version:
        raise VersionMismatch(
            "The cart has changed since you read it",
            current_version=cart.version,
            expected_version=expected_version,
        )
    if cart.status == "locked" and not lock_lapsed(cart, now):
        raise CartLocked("The cart is locked while checkout is in progress")


class CartState(Protocol):
    """What the change and lock checks read of a cart, ORM object, record or row alike."""

    @property
    def version(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def locked_until(self) -> datetime | None: ...


def lock_lapsed(cart: CartState, now: datetime) -> bool:
    return cart.status == "locked" and cart.locked_until is not None and cart.locked_until <= now


def touch(cart: Cart, now: datetime, *, by_shopper: bool = True) -> None:
    """Record a change: a new version, and (when the shopper made it) fresh activity."""
    cart.version += 1
    cart.updated_at = now
    if by_shopper:
        cart.last_activity_at = cart.activity_mark = now


async def view(session: AsyncSession, cart: Cart, *, now: datetime) -> CartView:
    variant_ids = {item.variant_id for item in cart.items}
    variants = await catalog.live_variants(session, variant_ids)
    holder = cart.id if cart.status == "locked" else None  # its checkout's own holds are its own
    stock = await inventory.levels(session, variant_ids, now=now, holder_id=holder)
    offers = {vid: offer(v, stock.get(vid)) for vid, v in variants.items()}
    status = "active" if lock_lapsed(cart, now) else cart.status
    promotion = await _applied_promotion(session, cart, now=now, price_frozen=status == "locked")
    return CartView(cart, offers, status, promotion=promotion)


async def _applied_promotion(
    session: AsyncSession, cart: Cart, *, now: datetime, price_frozen: bool
) -> rules.Promotion | None:
    """The code applied to the cart, judged now; a checkout in progress froze the price."""
    if cart.discount_code_id is None:
        return None
    code = await session.get_one(DiscountCode, cart.discount_code_id)
    applied = records.CodeRecord(
        code.code, code.percent, code.expires_at, redeemed=code.redeemed_at is not None
    )
    return promotion_of(applied, now=now, price_frozen=price_frozen)


def promotion_of(code: records.CodeRecord, *, now: datetime, price_frozen: bool) -> rules.Promotion:
    problem = rules.promotion_problem(
        expires_at=code.expires_at, redeemed=code.redeemed, now=now, price_frozen=price_frozen
    )
    return rules.Promotion(code.code, code.percent, code.expires_at, problem)


def view_of_rows(found: records.CartRows, *, now: datetime) -> CartView:
    """The view of a cart as the hot path read it (see ``queries.CART_BY_*``)."""
    status = "active" if lock_lapsed(found.cart, now) else found.cart.status
    promotion = None
    if found.code is not None:
        promotion = promotion_of(found.code, now=now, price_frozen=status == "locked")
    return CartView(found.cart, found.offers, status, promotion=promotion)


def offer(variant: catalog.LiveVariant, stock: inventory.StockLevel | None) -> rules.Offer:
    return rules.Offer(
        active=variant.sold,
        unit_price=variant.price,
        discount=variant.discount,
        available=stock.available if stock else 0,
        min_quantity=variant.min_quantity,
        max_quantity=variant.max_quantity,
    )
