"""Cart views rendered as response bodies, for every route that answers with a cart."""

from __future__ import annotations

from aimall_cart.carts import access, rules
from aimall_cart.carts.schemas import CartOut, IssueOut, ItemOut, Owner, TotalsOut


def cart_body(view: access.CartView) -> CartOut:
    cart, items, issues = view.cart, [], []
    for item in cart.items:
        offer = view.offers.get(item.variant_id)
        line = rules.Line(item.quantity, item.unit_price, item.discount)
        flags = rules.line_flags(line, offer)
        items.append(
            ItemOut(
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
                flags=flags,
            )
        )
        issues += [
            IssueOut(item_id=item.id, code=flag, message=rules.flag_message(flag, offer))
            for flag in flags
        ]
    totals = rules.totals(rules.Line(i.quantity, i.unit_price, i.discount) for i in cart.items)
    return CartOut(
        id=cart.id,
        status=view.status,
        version=cart.version,
        currency=cart.currency,
        owner=Owner(type="member", user_id=cart.user_id) if cart.user_id else Owner(type="guest"),
        items=items,
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
