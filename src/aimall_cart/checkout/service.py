"""Checkout use cases: start (validate, reserve, lock), complete (order, sale, archive, hand-off),
cancel, and the sweep of lapsed checkouts.

Locks are taken in one order everywhere: the cart row, then its checkout, then the applied
discount code, then reservations and stock in variant order. Reservations are held in the cart's
name (a cart has one checkout in progress at most), so the cart can tell its own holds from
everyone else's. The entrypoint commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart import events
from aimall_cart.auth import Principal
from aimall_cart.carts import access, journal, promotions
from aimall_cart.carts import rules as cart_rules
from aimall_cart.carts.models import Cart
from aimall_cart.checkout import orders, rules
from aimall_cart.checkout.models import CartArchive, Checkout, Order
from aimall_cart.crypto import KeyRing
from aimall_cart.errors import Conflict, NotFound
from aimall_cart.inventory import service as inventory


class CheckoutNotFound(NotFound):
    code = "checkout_not_found"


class NoCheckout(Conflict):
    code = "checkout_not_found"


class CheckoutExpired(Conflict):
    code = "checkout_expired"


@dataclass(slots=True)
class CheckoutView:
    checkout: Checkout
    cart: access.CartView


async def _log(session: AsyncSession, kind: str, cart: Cart, *, now: datetime) -> None:
    """An event per line of the cart as the database holds it (flushed)."""
    await session.execute(
        journal.EACH_LINE, {**journal.stamp(now), **journal.each_line(kind, cart.id)}
    )


async def _open_checkout(
    session: AsyncSession, cart_id: uuid.UUID, *, lock: bool = True
) -> Checkout | None:
    stmt = select(Checkout).where(Checkout.cart_id == cart_id, Checkout.status == "open")
    return await session.scalar(stmt.with_for_update() if lock else stmt)


async def _retire(session: AsyncSession, checkout: Checkout, status: str, now: datetime) -> None:
    """End a checkout that did not become an order, giving its units back."""
    await inventory.release_holds(session, holder_id=checkout.cart_id)
    checkout.status, checkout.updated_at = status, now


def _line_checks(view: access.CartView) -> list[rules.LineCheck]:
    checks = []
    for item in view.cart.items:
        offer = view.offers.get(item.variant_id)
        line = cart_rules.Line(item.quantity, item.unit_price, item.discount)
        issues = tuple(
            (flag, cart_rules.flag_message(flag, offer))
            for flag in cart_rules.line_flags(line, offer)
        )
        available = offer.available if offer else None
        checks.append(
            rules.LineCheck(str(item.id), item.variant_id, item.quantity, issues, available)
        )
    return checks


def _take_live_prices(view: access.CartView) -> None:
    for item in view.cart.items:
        offer = view.offers.get(item.variant_id)
        if offer is not None:
            item.unit_price, item.discount = offer.unit_price, offer.discount


async def _reserve(
    session: AsyncSession, checkout: Checkout, checks: list[rules.LineCheck], *, now: datetime
) -> None:
    """Hold every line's stock until the checkout expires, or refuse naming the short lines."""
    shortages = await inventory.reserve(
        session,
        holder_id=checkout.cart_id,
        quantities=rules.quantities(checks),
        now=now,
        expires_at=checkout.expires_at,
    )
    if shortages:
        free = {s.variant_id: s.available for s in shortages}
        raise rules.CheckoutBlocked(
            "The stock ran out while checking out", errors=rules.shortage_problems(checks, free)
        )


async def start(
    session: AsyncSession,
    *,
    principal: Principal,
    accept_price_changes: bool,
    expected_version: int | None,
    ttl: timedelta,
    max_units_per_variant: int,
    now: datetime,
) -> CheckoutView:
    """Validate every line and the applied code, reserve the stock until ``now + ttl``, and lock
    the cart. The price, promotion included, holds from here until the reservation runs out.
    No cart reserves more than ``max_units_per_variant`` units of one variant."""
    cart = await access.lock_for_change(
        session, principal, expected_version=expected_version, now=now
    )
    if (lapsed := await _open_checkout(session, cart.id)) is not None:
        await _retire(session, lapsed, "expired", now)
    view = await access.view(session, cart, now=now)
    checks = _line_checks(view)
    found = rules.problems(
        checks, accept_price_changes=accept_price_changes, promotion=view.promotion
    ) + rules.over_the_cap(checks, max_units_per_variant)
    if found:
        raise rules.CheckoutBlocked("The cart cannot be checked out as it is", errors=found)
    if accept_price_changes:
        _take_live_prices(view)
    checkout = Checkout(
        id=uuid.uuid4(),
        cart_id=cart.id,
        status="open",
        expires_at=now + ttl,
        created_at=now,
        updated_at=now,
    )
    session.add(checkout)
    await session.flush()
    await _reserve(session, checkout, checks, now=now)
    cart.status, cart.locked_until = "locked", checkout.expires_at
    access.touch(cart, now)
    await session.flush()
    await _log(session, "checkout_started", cart, now=now)
    return CheckoutView(checkout, await access.view(session, cart, now=now))


async def get(session: AsyncSession, *, principal: Principal, now: datetime) -> CheckoutView:
    cart = await access.find_open(session, principal, lock=False)
    checkout = None
    if cart is not None:
        checkout = await _open_checkout(session, cart.id, lock=False)
    if cart is None or checkout is None or checkout.expires_at <= now:
        raise CheckoutNotFound("No checkout is in progress")
    return CheckoutView(checkout, await access.view(session, cart, now=now))


async def _held_cart(session: AsyncSession, principal: Principal) -> tuple[Cart, Checkout]:
    cart = await access.find_open(session, principal, lock=True)
    checkout = await _open_checkout(session, cart.id) if cart is not None else None
    if cart is None or checkout is None:
        raise NoCheckout("No checkout is in progress")
    return cart, checkout


async def cancel(session: AsyncSession, *, principal: Principal, now: datetime) -> access.CartView:
    cart, checkout = await _held_cart(session, principal)
    await _retire(session, checkout, "cancelled", now)
    cart.status, cart.locked_until = "active", None
    access.touch(cart, now)
    await session.flush()
    return await access.view(session, cart, now=now)


async def complete(
    session: AsyncSession,
    *,
    principal: Principal,
    payment_reference: str | None,
    keys: KeyRing,
    now: datetime,
) -> Order:
    """Turn the checkout into an order: the applied code is redeemed, the held stock is sold, the
    cart is archived and cleared (its code with it), and ``order.placed`` is written to the
    outbox, all in this one transaction. A code that expired since the checkout started is still
    honoured; one that another order redeemed since refuses the whole completion."""
    cart, checkout = await _held_cart(session, principal)
    if checkout.expires_at <= now:
        raise CheckoutExpired("The reservation ran out; start the checkout again")
    view = await access.view(session, cart, now=now)
    order = orders.from_cart(
        cart,
        checkout,
        promotion=view.promotion,
        payment_reference=payment_reference,
        keys=keys,
        now=now,
    )
    if cart.discount_code_id is not None:
        await promotions.redeem(session, code_id=cart.discount_code_id, order_id=order.id, now=now)
    if not await inventory.commit_holds(session, holder_id=checkout.cart_id, now=now):
        raise CheckoutExpired("The reservation ran out; start the checkout again")
    session.add(order)
    await session.flush()  # the archive refers to the order, and no relationship orders them
    await _log(session, "checkout_completed", cart, now=now)  # before the lines are cleared
    session.add(
        CartArchive(
            cart_id=cart.id, order_id=order.id, snapshot=orders.snapshot(view), archived_at=now
        )
    )
    checkout.status, checkout.updated_at = "completed", now
    cart.status, cart.locked_until, cart.discount_code_id = "checked_out", None, None
    cart.items.clear()
    access.touch(cart, now)
    person = events.member(cart.user_id) if cart.user_id else None
    if person is None and cart.guest_token_hash:
        person = events.guest(cart.guest_token_hash)
    events.emit(
        session, "order.placed", orders.document(order, keys), keys=keys, person=person, now=now
    )
    await session.flush()
    return order


async def expire_lapsed(session: AsyncSession, *, now: datetime, candidates: int = 20) -> int:
    """Expire one checkout whose reservation lapsed: release its stock and unlock its cart.
    Answers 1, or 0 when there is none to take.

    One per transaction, so each touches stock in a single sorted pass. Carts are locked first,
    as every checkout request does, and skipped when busy, so several workers can sweep at once
    without waiting on each other or on shoppers.
    """
    lapsed = (
        await session.execute(
            select(Checkout.id, Checkout.cart_id)
            .where(Checkout.status == "open", Checkout.expires_at <= now)
            .order_by(Checkout.expires_at)
            .limit(candidates)
        )
    ).all()
    for checkout_id, cart_id in lapsed:
        cart = await session.scalar(
            select(Cart).where(Cart.id == cart_id).with_for_update(skip_locked=True)
        )
        if cart is None:
            continue
        checkout = await session.get(
            Checkout, checkout_id, with_for_update=True, populate_existing=True
        )
        if checkout is None or checkout.status != "open":
            continue
        await _retire(session, checkout, "expired", now)
        if cart.status == "locked":
            cart.status, cart.locked_until = "active", None
            access.touch(cart, now, by_shopper=False)
        await session.flush()
        await _log(session, "checkout_expired", cart, now=now)
        return 1
    return 0
