"""Cart views rendered as response bodies, for every route that answers with a cart."""

from __future__ import annotations

from aimall_cart.carts import access, rules
from aimall_cart.carts.models import CartItem
from aimall_cart.carts.schemas import CartOut, IssueOut, ItemOut, Owner, PromotionOut, TotalsOut


def cart_body(view: access.CartView) -> CartOut:
    cart, items, issues = view.cart, [], []
    for item in cart.items:
        offer = view.offers.get(item.variant_id)
        body = _item(item, offer)
        items.append(body)
        issues += [
            IssueOut(item_id=item.id, code=flag, message=rules.flag_message(flag, offer))
            for flag in body.flags
        ]
    promotion = view.promotion
    totals = rules.totals(
        (rules.Line(i.quantity, i.unit_price, i.discount) for i in cart.items), promotion
    )
    if promotion is not None and promotion.problem is not None:
        message = rules.PROMOTION_MESSAGES[promotion.problem]
        issues.append(IssueOut(item_id=None, code=promotion.problem, message=message))
    return CartOut(
        id=cart.id,
        status=view.status,
        version=cart.version,
        currency=cart.currency,
        owner=Owner(type="member", user_id=cart.user_id) if cart.user_id else Owner(type="guest"),
        items=items,
        discount_code=promotion.code if promotion else None,
        promotion=_promotion_out(promotion, totals),
        totals=TotalsOut(
            subtotal=totals.subtotal,
            discount=totals.discount,
            total=totals.total,
            item_count=totals.item_count,
        ),
        checkout_blocked=bool(issues),
        issues=issues,
        created_at=cart.created_at,
        updated_at=cart.updated_at,
        guest_token=view.guest_token,
    )


def _item(item: CartItem, offer: rules.Offer | None) -> ItemOut:
    line = rules.Line(item.quantity, item.unit_price, item.discount)
    return ItemOut(
        id=item.id,
        product_id=item.product_id,
        variant_id=item.variant_id,
        name=item.name,
        thumbnail_url=item.thumbnail_url,
        options=item.options,
        quantity=item.quantity,
        min_quantity=offer.min_quantity if offer else None,
        max_quantity=offer.max_quantity if offer else None,
        unit_price=item.unit_price,
        discount=item.discount,
        line_total=line.total,
        current_unit_price=offer.unit_price if offer else None,
        current_discount=offer.discount if offer else None,
        available_quantity=offer.available if offer else None,
        flags=rules.line_flags(line, offer),
    )


def _promotion_out(promotion: rules.Promotion | None, totals: rules.Totals) -> PromotionOut | None:
    if promotion is None:
        return None
    return PromotionOut(
        code=promotion.code,
        percent=promotion.percent,
        amount=totals.promotion,
        expires_at=promotion.expires_at,
    )
