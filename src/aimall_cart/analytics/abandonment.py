"""Finding abandoned carts: any open cart with lines, left alone for the recovery policy's
``inactivity_minutes`` and not checked out, guest or member, with consent or without.

Each newly abandoned cart gets a ``cart_abandoned`` event per line, with what the line shows at
that moment as the reason (``availability`` when it cannot be bought as it is, ``price`` when
its price went up since it was added, ``other`` otherwise), and ``abandoned_at`` so it is found
once per spell of inactivity. A cart touched again since is abandoned anew when it idles again.
Carts are taken in batches, skipping any a request holds; the caller commits each batch.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import cast

from sqlalchemy import ColumnElement, Table, case, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.carts import activity
from aimall_cart.carts.models import Cart, CartEvent, CartItem
from aimall_cart.catalog.models import Product, Variant
from aimall_cart.inventory.models import Inventory

_events = cast(Table, CartEvent.__table__)


def _reason() -> ColumnElement[str]:
    unavailable = or_(
        Variant.id.is_(None),
        Variant.status != "active",
        Product.status != "active",
        func.coalesce(Inventory.on_hand - Inventory.reserved, 0) < CartItem.quantity,
    )
    dearer = (Variant.price - Variant.discount) > (CartItem.unit_price - CartItem.discount)
    return case((unavailable, "availability"), (dearer, "price"), else_="other")


async def _idle_carts(
    session: AsyncSession, *, idle_since: datetime, batch: int
) -> list[uuid.UUID]:
    stmt = (
        select(Cart.id)
        .where(
            Cart.status == "active",
            *activity.idle_since(idle_since),
            or_(Cart.abandoned_at.is_(None), Cart.abandoned_at < Cart.last_activity_at),
            exists().where(CartItem.cart_id == Cart.id),
        )
        .order_by(Cart.activity_mark)  # the index's order: a batch is read, not sorted
        .limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(await session.scalars(stmt))


async def mark_batch(
    session: AsyncSession, *, idle_since: datetime, batch: int, now: datetime
) -> int:
    """Log one batch of newly abandoned carts; how many there were."""
    cart_ids = await _idle_carts(session, idle_since=idle_since, batch=batch)
    if not cart_ids:
        return 0
    rows = (
        select(
            Cart.analytics_key,
            Product.seller_id,
            CartItem.product_id,
            CartItem.variant_id,
            CartItem.quantity,
            CartItem.quantity * (CartItem.unit_price - CartItem.discount),
            Cart.currency,
            _reason(),
        )
        .select_from(CartItem)
        .join(Cart, Cart.id == CartItem.cart_id)
        .outerjoin(Variant, Variant.id == CartItem.variant_id)
        .outerjoin(Product, Product.id == CartItem.product_id)
        .outerjoin(Inventory, Inventory.variant_id == CartItem.variant_id)
        .where(CartItem.cart_id.in_(cart_ids))
    )
    found = (await session.execute(rows)).all()
    await session.execute(
        insert(_events),
        [
            {
                "occurred_at": now,
                "day": now.date(),
                "kind": "cart_abandoned",
                "cart_key": key,
                "seller_id": seller,
                "product_id": product,
                "variant_id": variant,
                "quantity_delta": quantity,
                "value": value,
                "currency": currency,
                "reason": reason,
            }
            for key, seller, product, variant, quantity, value, currency, reason in found
        ],
    )
    await session.execute(update(Cart).where(Cart.id.in_(cart_ids)).values(abandoned_at=now))
    return len(cart_ids)
