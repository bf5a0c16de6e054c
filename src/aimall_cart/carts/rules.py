"""Pure cart rules: line identity, variant choice, limits, live flags, promotions and totals."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from aimall_cart.errors import Conflict, Invalid

Flag = Literal[
    "unavailable", "out_of_stock", "insufficient_stock", "price_changed", "quantity_out_of_range"
]
PromotionProblem = Literal["discount_code_expired", "discount_code_used"]
FLAG_ORDER: tuple[Flag, ...] = (
    "unavailable",
    "out_of_stock",
    "insufficient_stock",
    "quantity_out_of_range",
    "price_changed",
)


class InvalidOptions(Invalid):
    code = "invalid_options"


class QuantityOutOfRange(Invalid):
    code = "quantity_out_of_range"


class CartFull(Invalid):
    code = "cart_full"


class CurrencyMismatch(Invalid):
    code = "currency_mismatch"


class InsufficientStock(Conflict):
    code = "insufficient_stock"


class ProductUnavailable(Conflict):
    code = "product_unavailable"


@dataclass(frozen=True, slots=True)
class VariantChoice:
    variant_id: str
    options: Mapping[str, str]
    active: bool


@dataclass(frozen=True, slots=True)
class Offer:
    """What the catalog and stock say of a variant right now."""

    active: bool  # product and variant both active
    unit_price: int
    discount: int
    available: int
    min_quantity: int
    max_quantity: int


@dataclass(frozen=True, slots=True)
class Line:
    quantity: int
    unit_price: int
    discount: int

    @property
    def total(self) -> int:
        return (self.unit_price - self.discount) * self.quantity


@dataclass(frozen=True, slots=True)
class Promotion:
    """A code applied to the cart; while ``problem`` is set it takes nothing off."""

    code: str
    percent: int
    expires_at: datetime
    problem: PromotionProblem | None = None


@dataclass(frozen=True, slots=True)
class Totals:
    """``discount`` is the lines' discounts plus ``promotion``, the applied code's amount."""

    subtotal: int
    discount: int
    total: int
    item_count: int
    promotion: int = 0


def line_key(product_id: str, variant_id: str, options: Mapping[str, str]) -> str:
    """Two lines with the same product, variant and options are one line."""
    canonical = json.dumps([product_id, variant_id, sorted(options.items())], ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def choose_variant(
    variants: Sequence[VariantChoice],
    *,
    variant_id: str | None,
    options: Mapping[str, str] | None,
) -> VariantChoice:
    """The variant named by id, or the one variant whose options include every given option.

    Options given beside an id must agree with that variant. A product with one variant needs
    neither.
    """
    if variant_id is not None:
        chosen = next((v for v in variants if v.variant_id == variant_id), None)
        if chosen is None:
            raise InvalidOptions(
                "That variant does not belong to this product", variant_id=variant_id
            )
        if options and any(chosen.options.get(k) != v for k, v in options.items()):
            raise InvalidOptions("The options do not match the variant", variant_id=variant_id)
        return chosen
    wanted = options or {}
    matches = [v for v in variants if all(v.options.get(k) == val for k, val in wanted.items())]
    if len(matches) > 1:
        active = [v for v in matches if v.active]
        matches = active if len(active) == 1 else matches
    if len(matches) != 1:
        raise InvalidOptions(
            "The options must name exactly one variant",
            choices=[dict(v.options) for v in variants if v.active],
        )
    return matches[0]


def check_quantity(quantity: int, *, min_quantity: int, max_quantity: int) -> None:
    if not min_quantity <= quantity <= max_quantity:
        raise QuantityOutOfRange(
            f"Quantity must be between {min_quantity} and {max_quantity}",
            quantity=quantity,
            min_quantity=min_quantity,
            max_quantity=max_quantity,
        )


def check_stock(quantity: int, *, available: int) -> None:
    if quantity > available:
        message = "Out of stock" if available == 0 else f"Only {available} left"
        raise InsufficientStock(message, available_quantity=available)


def line_flags(line: Line, offer: Offer | None) -> list[Flag]:
    """Flags of one line against the live offer; ``None`` means the variant is gone."""
    if offer is None or not offer.active:
        return ["unavailable"]
    flags: set[Flag] = set()
    if offer.available == 0:
        flags.add("out_of_stock")
    elif offer.available < line.quantity:
        flags.add("insufficient_stock")
    if not offer.min_quantity <= line.quantity <= offer.max_quantity:
        flags.add("quantity_out_of_range")
    # Only what the shopper pays counts: a new list price with an equal net price is no change.
    if offer.unit_price - offer.discount != line.unit_price - line.discount:
        flags.add("price_changed")
    return [flag for flag in FLAG_ORDER if flag in flags]


def flag_message(flag: Flag, offer: Offer | None) -> str:
    if flag == "insufficient_stock" and offer is not None:
        return f"Only {offer.available} left"
    if flag == "quantity_out_of_range" and offer is not None:
        return f"Quantity must be between {offer.min_quantity} and {offer.max_quantity}"
    return {
        "unavailable": "This item is no longer available",
        "out_of_stock": "Out of stock",
        "insufficient_stock": "Not enough stock",
        "quantity_out_of_range": "Quantity is outside the allowed range",
        "price_changed": "The price has changed since this item was added",
    }[flag]


PROMOTION_MESSAGES: dict[PromotionProblem, str] = {
    "discount_code_expired": "This discount code has expired",
    "discount_code_used": "This discount code has already been used",
}


def promotion_problem(
    *, expires_at: datetime, redeemed: bool, now: datetime, price_frozen: bool
) -> PromotionProblem | None:
    """Why an applied code takes nothing off now. Expiry does not reach a cart whose checkout is
    in progress (``price_frozen``): the checkout checked the code when it started."""
    if redeemed:
        return "discount_code_used"
    if not price_frozen and expires_at <= now:
        return "discount_code_expired"
    return None


def promotion_amount(net_subtotal: int, percent: int) -> int:
    """``percent`` of what the lines cost after their own discounts, rounded down to the minor
    unit: a fraction of a cent is the shop's, so the amount never exceeds the percent promised."""
    return net_subtotal * percent // 100


def totals(lines: Iterable[Line], promotion: Promotion | None = None) -> Totals:
    subtotal = discount = count = 0
    for line in lines:
        subtotal += line.unit_price * line.quantity
        discount += line.discount * line.quantity
        count += line.quantity
    percent = promotion.percent if promotion is not None and promotion.problem is None else 0
    off = promotion_amount(subtotal - discount, percent)
    return Totals(
        subtotal=subtotal,
        discount=discount + off,
        total=subtotal - discount - off,
        item_count=count,
        promotion=off,
    )
