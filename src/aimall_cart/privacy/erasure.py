"""Erasing a subject (``DELETE /v1/me/data``): what is about them goes, what the business must
keep stays without naming them.

Open carts go with their lines, checkouts and held stock. A checked-out cart stays as a nameless
row (its order refers to it) owned by a random token hash nobody holds, under a new analytics
pseudonym; its archive goes. The cart event log is left whole: once no cart carries its
pseudonym, an event names no one, and the figures keep it. Orders
keep lines and totals but lose the customer, the payment reference and the single-use code.
Discount codes, preferences, idempotency records and the outbox events about the subject go,
except an order hand-off not yet delivered, which is kept with the nameless order. Recovery's
part is erased first by its registered holder (see ``personal``).

Everything happens in the caller's one transaction, with the subject's carts locked first, and
the entrypoint commits. Erasing again finds nothing more and erases nothing.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart import events
from aimall_cart.carts.models import Cart, CartItem, DiscountCode, new_analytics_key
from aimall_cart.checkout import orders
from aimall_cart.checkout.models import CartArchive, Checkout, Order
from aimall_cart.crypto import KeyRing
from aimall_cart.events import OutboxEvent
from aimall_cart.idempotency import IdempotencyRecord
from aimall_cart.inventory import service as inventory
from aimall_cart.privacy import personal
from aimall_cart.privacy.export import owned_by, subject_orders
from aimall_cart.privacy.models import Preferences

ORDER_EVENTS = "order."


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_carts(session: AsyncSession, cart_ids: Collection[uuid.UUID]) -> int:
    """Carts that became no order, with their lines, checkouts and held stock."""
    if not cart_ids:
        return 0
    for cart_id in sorted(cart_ids):
        await inventory.release_holds(session, holder_id=cart_id)
    await session.execute(
        update(Cart).where(Cart.merged_into_id.in_(cart_ids)).values(merged_into_id=None)
    )
    await session.execute(delete(CartItem).where(CartItem.cart_id.in_(cart_ids)))
    await session.execute(delete(Checkout).where(Checkout.cart_id.in_(cart_ids)))
    return _count(await session.execute(delete(Cart).where(Cart.id.in_(cart_ids))))


async def _lock_carts(session: AsyncSession, subject: personal.Subject) -> list[uuid.UUID]:
    """The subject's carts, locked in id order before anything else is touched: a recovery pass
    share-locks the carts it opens cases for and messages about, so it either finished with
    this subject before (and erasure sees all it wrote) or skips them."""
    query = select(Cart.id).where(owned_by(subject)).order_by(Cart.id).with_for_update()
    return list(await session.scalars(query))


async def _carts(session: AsyncSession, ids: list[uuid.UUID]) -> dict[str, int]:
    if not ids:
        return {"carts": 0, "archived_carts": 0}
    ordered = set(await session.scalars(select(Order.cart_id).where(Order.cart_id.in_(ids))))
    archived = await session.execute(delete(CartArchive).where(CartArchive.cart_id.in_(ids)))
    for cart_id in sorted(ordered):
        await session.execute(
            update(Cart)
            .where(Cart.id == cart_id)
            .values(
                user_id=None,
                guest_token_hash=secrets.token_hex(32),
                merged_into_id=None,
                discount_code_id=None,
                # A new pseudonym: the cart's events stay in the figures, tied to no one.
                analytics_key=new_analytics_key(),
            )
        )
    erased = await delete_carts(session, [cart_id for cart_id in ids if cart_id not in ordered])
    return {
        "carts": erased + len(ordered),
        "archived_carts": _count(archived),
    }


async def _orders(session: AsyncSession, subject: personal.Subject) -> list[uuid.UUID]:
    order_ids = list(await session.scalars(select(Order.id).where(subject_orders(subject))))
    if order_ids:
        await session.execute(
            update(Order)
            .where(Order.id.in_(order_ids))
            .values(
                user_id=None, guest_token_hash=None, payment_reference=None, promotion_code=None
            )
        )
    return order_ids


async def _outbox(
    session: AsyncSession, subject: personal.Subject, keys: KeyRing, order_ids: list[uuid.UUID]
) -> int:
    """The subject's events go; an order hand-off still pending is kept, made of the nameless
    order, so the order module still hears of the order."""
    about = list(
        await session.scalars(
            select(OutboxEvent).where(OutboxEvent.person == subject.person).with_for_update()
        )
    )
    handed = {
        event.id: event
        for event in about
        if event.status == "pending" and event.type.startswith(ORDER_EVENTS)
    }
    if handed and order_ids:
        placed = {
            order.id: order
            for order in await session.scalars(
                select(Order)
                .where(Order.id.in_(order_ids))
                .execution_options(populate_existing=True)
            )
        }
        for event in handed.values():
            order_id = uuid.UUID(events.open_payload(keys, event.id, event.payload)["id"])
            if (order := placed.get(order_id)) is not None:
                await session.refresh(order, ["lines"])
                event.payload = events.seal_payload(keys, event.id, orders.document(order, keys))
            event.person = None
    gone = [event.id for event in about if event.id not in handed]
    if gone:
        await session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(gone)))
    return len(gone)


async def _rest(session: AsyncSession, subject: personal.Subject) -> dict[str, int]:
    counts: dict[str, int] = {}
    if subject.user_id is not None:
        counts["discount_codes"] = _count(
            await session.execute(
                delete(DiscountCode).where(DiscountCode.user_id == subject.user_id)
            )
        )
        counts["preferences"] = _count(
            await session.execute(delete(Preferences).where(Preferences.user_id == subject.user_id))
        )
    counts["idempotency_keys"] = _count(
        await session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.caller == subject.caller)
        )
    )
    return counts


async def erase(
    session: AsyncSession, *, subject: personal.Subject, keys: KeyRing, now: datetime
) -> dict[str, int]:
    """Counts of what was erased, by kind; zeros when there was nothing left."""
    cart_ids = await _lock_carts(session, subject)
    erased: dict[str, int] = {}
    for holder in personal.holders():
        erased |= await holder.erase(session, subject, now)
    erased |= await _carts(session, cart_ids)
    order_ids = await _orders(session, subject)
    erased["orders"] = len(order_ids)
    erased["outbox_events"] = await _outbox(session, subject, keys, order_ids)
    erased |= await _rest(session, subject)
    return erased
