"""What the hot path checks and writes about one line: the variant chosen, the price snapshot it
takes, the room and currency a new line needs, the quantity a change may set. Plain records in,
plain values out; ``service`` runs the statements."""

from __future__ import annotations

from aimall_cart.carts import access, queries, rules
from aimall_cart.carts.records import CartRecord, LineRecord, ProductRecord, VariantRecord
from aimall_cart.catalog.service import ProductNotFound


def found(product: ProductRecord | None, product_id: str) -> ProductRecord:
    if product is None:
        raise ProductNotFound(f"No product {product_id!r}", product_id=product_id)
    return product


def choose(
    product: ProductRecord, *, variant_id: str | None, options: dict[str, str] | None
) -> VariantRecord:
    choices = [rules.VariantChoice(v.id, v.options, v.active) for v in product.variants]
    chosen = rules.choose_variant(choices, variant_id=variant_id, options=options)
    variant = next(v for v in product.variants if v.id == chosen.variant_id)
    if not product.active or not variant.active:
        raise rules.ProductUnavailable(
            "This product is not available", product_id=product.id, variant_id=variant.id
        )
    return variant


def snapshot(line: LineRecord, product: ProductRecord, variant: VariantRecord) -> None:
    """Point the line at a variant and take its product reference and price as they are now."""
    line.line_key = rules.line_key(product.id, variant.id, variant.options)
    line.product_id, line.variant_id, line.options = product.id, variant.id, dict(variant.options)
    line.name, line.thumbnail_url = product.name, product.thumbnail_url
    line.unit_price, line.discount = variant.price, variant.discount


def line_values(line: LineRecord) -> dict[str, object]:
    """The parameters that write the line's quantity and snapshot."""
    values = {f"new_{name}": getattr(line, name) for name in queries.SNAPSHOT_COLUMNS}
    return {**values, "new_quantity": line.quantity}


def check_room(
    cart: CartRecord, product: ProductRecord, *, new_line: bool, policy: access.CartPolicy
) -> str:
    """A new line needs a free place, and every line shares the cart's currency (an empty cart
    takes the product's). Answers the cart's currency after the change."""
    if new_line and len(cart.items) >= policy.max_lines:
        raise rules.CartFull(
            f"A cart holds at most {policy.max_lines} lines", max_lines=policy.max_lines
        )
    if not cart.items:
        return product.currency
    if product.currency != cart.currency:
        raise rules.CurrencyMismatch(
            f"This cart is in {cart.currency}",
            cart_currency=cart.currency,
            currency=product.currency,
        )
    return cart.currency


def check_new_quantity(line: LineRecord, quantity: int, offer: rules.Offer | None) -> None:
    """Raising a line needs the product sold, in range and in stock. Lowering only has to stay at
    or above the minimum, so a shopper can trim a line that went unavailable or over the max.

    The line's live offer is all it takes: a variant is never deleted while its product lives, and
    never moves to another product, so no offer means no product.
    """
    if quantity > line.quantity:
        if offer is None:
            raise rules.ProductUnavailable(
                "This product is no longer sold", product_id=line.product_id
            )
        if not offer.active:
            raise rules.ProductUnavailable(
                "This product is not available",
                product_id=line.product_id,
                variant_id=line.variant_id,
            )
        rules.check_quantity(
            quantity, min_quantity=offer.min_quantity, max_quantity=offer.max_quantity
        )
        rules.check_stock(quantity, available=offer.available)
    elif offer is not None:
        ceiling = max(offer.max_quantity, line.quantity)
        rules.check_quantity(quantity, min_quantity=offer.min_quantity, max_quantity=ceiling)
