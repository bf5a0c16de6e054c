"""Orders: made from a checked-out cart, shown to their customer, handed to the order module.

The payment reference is sealed at rest under the data key ring, bound to its order; one no key
of the ring opens reads as absent, logged by key id.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from aimall_cart.auth import Principal
from aimall_cart.carts import access
from aimall_cart.carts import rules as cart_rules
from aimall_cart.carts.models import Cart, CartItem
from aimall_cart.checkout.models import Checkout, Order, OrderLine
from aimall_cart.crypto import KeyRing, Unreadable, key_id_of
from aimall_cart.errors import NotFound
from aimall_cart.rotation import Resealer

log = logging.getLogger("aimall_cart.checkout")
PAYMENT_PURPOSE = "payment-reference"


class OrderNotFound(NotFound):
    code = "order_not_found"


def from_cart(
    cart: Cart,
    checkout: Checkout,
    *,
    promotion: cart_rules.Promotion | None,
    payment_reference: str | None,
    keys: KeyRing,
    now: datetime,
) -> Order:
    """The order a cart makes: its lines at their snapshot prices, and their totals less the
    applied promotion (recorded on its own too, as what the promotion cost)."""
    totals = cart_rules.totals(
        (cart_rules.Line(i.quantity, i.unit_price, i.discount) for i in cart.items), promotion
    )
    honoured = promotion if promotion is not None and promotion.problem is None else None
    order_id = uuid.uuid4()
    order = Order(
        id=order_id,
        cart_id=cart.id,
        checkout_id=checkout.id,
        user_id=cart.user_id,
        guest_token_hash=cart.guest_token_hash,
        status="placed",
        currency=cart.currency,
        subtotal=totals.subtotal,
        discount=totals.discount,
        total=totals.total,
        item_count=totals.item_count,
        promotion_code=honoured.code if honoured else None,
        promotion_discount=totals.promotion,
        payment_reference=seal_payment_reference(keys, order_id, payment_reference),
        created_at=now,
        lines=[],
    )
    order.lines.extend(_line(position, item) for position, item in enumerate(cart.items))
    return order


def seal_payment_reference(keys: KeyRing, order_id: uuid.UUID, reference: str | None) -> str | None:
    if reference is None:
        return None
    return keys.seal(reference, purpose=PAYMENT_PURPOSE, context=str(order_id))


def _opened(keys: KeyRing, order_id: uuid.UUID, stored: str) -> str:
    """One stored before sealing is returned as it is; raises ``Unreadable``."""
    if key_id_of(stored) is None:
        return stored
    return keys.open(stored, purpose=PAYMENT_PURPOSE, context=str(order_id))


def payment_reference(keys: KeyRing, order: Order) -> str | None:
    """The order's payment reference in clear; None when no key of the ring opens it."""
    if order.payment_reference is None:
        return None
    try:
        return _opened(keys, order.id, order.payment_reference)
    except Unreadable as error:
        log.warning("an order's payment reference cannot be read: %s", error)
        return None


def _reseal(keys: KeyRing, row: Row[Any]) -> dict[str, Any]:
    stored = row.payment_reference
    if keys.is_current(stored):
        return {}
    return {
        "payment_reference": seal_payment_reference(keys, row.id, _opened(keys, row.id, stored))
    }


RESEALER = Resealer(Order, ("payment_reference",), _reseal)


def _line(position: int, item: CartItem) -> OrderLine:
    return OrderLine(
        id=uuid.uuid4(),
        position=position,
        product_id=item.product_id,
        variant_id=item.variant_id,
        name=item.name,
        thumbnail_url=item.thumbnail_url,
        options=dict(item.options),
        quantity=item.quantity,
        unit_price=item.unit_price,
        discount=item.discount,
        line_total=(item.unit_price - item.discount) * item.quantity,
    )


def snapshot(view: access.CartView) -> dict[str, object]:
    cart = view.cart
    return {
        "id": str(cart.id),
        "currency": cart.currency,
        "version": cart.version,
        "discount_code": view.promotion.code if view.promotion else None,
        "items": [
            {
                "product_id": i.product_id,
                "variant_id": i.variant_id,
                "name": i.name,
                "options": i.options,
                "quantity": i.quantity,
                "unit_price": i.unit_price,
                "discount": i.discount,
            }
            for i in cart.items
        ],
    }


def document(order: Order, keys: KeyRing) -> dict[str, object]:
    """The order as the order module receives it, and as ``GET /v1/orders/{id}`` shows it."""
    return {
        "id": str(order.id),
        "cart_id": str(order.cart_id),
        "status": order.status,
        "currency": order.currency,
        "customer": {"type": "member", "user_id": order.user_id}
        if order.user_id
        else {"type": "guest"},
        "lines": [
            {
                "product_id": line.product_id,
                "variant_id": line.variant_id,
                "name": line.name,
                "thumbnail_url": line.thumbnail_url,
                "options": line.options,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "discount": line.discount,
                "line_total": line.line_total,
            }
            for line in order.lines
        ],
        "totals": {
            "subtotal": order.subtotal,
            "discount": order.discount,
            "total": order.total,
            "item_count": order.item_count,
        },
        "promotion": {"code": order.promotion_code, "amount": order.promotion_discount}
        if order.promotion_code
        else None,
        "payment_reference": payment_reference(keys, order),
        "created_at": order.created_at.isoformat().replace("+00:00", "Z"),
    }


async def get(session: AsyncSession, *, principal: Principal, order_id: uuid.UUID) -> Order:
    """The order, for its own customer or an admin; anyone else learns nothing of it."""
    order = await session.scalar(
        select(Order).options(selectinload(Order.lines)).where(Order.id == order_id)
    )
    mine = order is not None and (
        principal.role == "admin"
        or (principal.user_id is not None and order.user_id == principal.user_id)
        or (
            principal.user_id is None
            and principal.cart_token_hash is not None
            and order.guest_token_hash == principal.cart_token_hash
        )
    )
    if order is None or not mine:
        raise OrderNotFound("There is no such order", order_id=str(order_id))
    return order
