"""Cart views rendered as response bodies, for every route that answers with a cart.

``cart_document`` builds the body as plain data, in ``CartOut``'s shape and field order, so the
hot path serialises it once (``cart_json``) without validating it again; the cold paths that
embed a cart in a larger model take ``cart_body``.
"""

from __future__ import annotations

from typing import Any

import orjson

from aimall_cart.carts import access, rules
from aimall_cart.carts.models import CartItem
from aimall_cart.carts.records import LineRecord
from aimall_cart.carts.schemas import CartOut


def cart_document(view: access.CartView) -> dict[str, Any]:
    cart, items, issues = view.cart, [], []
    for item in cart.items:
        offer = view.offers.get(item.variant_id)
        body = _item(item, offer)
        items.append(body)
        issues += [
            {"item_id": item.id, "code": flag, "message": rules.flag_message(flag, offer)}
            for flag in body["flags"]
        ]
    promotion = view.promotion
    totals = rules.totals(
        (rules.Line(i.quantity, i.unit_price, i.discount) for i in cart.items), promotion
    )
    if promotion is not None and promotion.problem is not None:
        message = rules.PROMOTION_MESSAGES[promotion.problem]
        issues.append({"item_id": None, "code": promotion.problem, "message": message})
    member = cart.user_id is not None
    return {
        "id": cart.id,
        "status": view.status,
        "version": cart.version,
        "currency": cart.currency,
        "owner": {"type": "member" if member else "guest", "user_id": cart.user_id},
        "items": items,
        "discount_code": promotion.code if promotion else None,
        "promotion": _promotion(promotion, totals),
        "totals": {
            "subtotal": totals.subtotal,
            "discount": totals.discount,
            "total": totals.total,
            "item_count": totals.item_count,
        },
        "checkout_blocked": bool(issues),
        "issues": issues,
        "created_at": cart.created_at,
        "updated_at": cart.updated_at,
        "guest_token": view.guest_token,
    }


def cart_json(view: access.CartView) -> bytes:
    # ``default``: asyncpg hands back its own UUID subclass, which orjson does not take as one.
    return orjson.dumps(cart_document(view), default=str, option=orjson.OPT_UTC_Z)


def cart_body(view: access.CartView) -> CartOut:
    return CartOut.model_validate(cart_document(view))


def _item(item: CartItem | LineRecord, offer: rules.Offer | None) -> dict[str, Any]:
    line = rules.Line(item.quantity, item.unit_price, item.discount)
    return {
        "id": item.id,
        "product_id": item.product_id,
        "variant_id": item.variant_id,
        "name": item.name,
        "thumbnail_url": item.thumbnail_url,
        "options": item.options,
        "quantity": item.quantity,
        "min_quantity": offer.min_quantity if offer else None,
        "max_quantity": offer.max_quantity if offer else None,
        "unit_price": item.unit_price,
        "discount": item.discount,
        "line_total": line.total,
        "current_unit_price": offer.unit_price if offer else None,
        "current_discount": offer.discount if offer else None,
        "available_quantity": offer.available if offer else None,
        "flags": rules.line_flags(line, offer),
    }


def _promotion(promotion: rules.Promotion | None, totals: rules.Totals) -> dict[str, Any] | None:
    if promotion is None:
        return None
    return {
        "code": promotion.code,
        "percent": promotion.percent,
        "amount": totals.promotion,
        "expires_at": promotion.expires_at,
    }
