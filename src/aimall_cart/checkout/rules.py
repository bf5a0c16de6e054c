"""Pure checkout rules: what stops a checkout, and what it must reserve."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aimall_cart.carts.rules import PROMOTION_MESSAGES, Flag, Promotion
from aimall_cart.errors import Conflict


class CheckoutBlocked(Conflict):
    code = "checkout_blocked"


@dataclass(frozen=True, slots=True)
class LineCheck:
    """A cart line as checkout sees it: its live flags with their messages."""

    item_id: str
    variant_id: str
    quantity: int
    issues: tuple[tuple[Flag, str], ...]
    available: int | None


def problems(
    lines: Sequence[LineCheck],
    *,
    accept_price_changes: bool,
    promotion: Promotion | None = None,
) -> list[dict[str, object]]:
    """One entry per line and problem that stops the checkout. A price change stops it unless the
    shopper accepts the live price; an empty cart cannot be checked out. An applied code that
    expired or was used stops it too (entry without ``item_id``): the shopper removes it and sees
    the price without it first."""
    if not lines:
        return [{"item_id": None, "code": "cart_empty", "message": "The cart is empty"}]
    found: list[dict[str, object]] = []
    for line in lines:
        for flag, message in line.issues:
            if flag == "price_changed" and accept_price_changes:
                continue
            entry: dict[str, object] = {"item_id": line.item_id, "code": flag, "message": message}
            if flag in ("insufficient_stock", "out_of_stock"):
                entry["available_quantity"] = line.available
            found.append(entry)
    if promotion is not None and promotion.problem is not None:
        found.append(
            {
                "item_id": None,
                "code": promotion.problem,
                "message": PROMOTION_MESSAGES[promotion.problem],
                "discount_code": promotion.code,
            }
        )
    return found


def over_the_cap(lines: Sequence[LineCheck], cap: int) -> list[dict[str, object]]:
    """The lines of a variant that would reserve more than ``cap`` units for one cart: a guard
    against a few carts holding a product's whole stock through their reservations."""
    wanted = quantities(lines)
    return [
        {
            "item_id": line.item_id,
            "code": "reservation_limit",
            "max_quantity": cap,
            "message": f"At most {cap} of this item can be reserved per order",
        }
        for line in lines
        if wanted[line.variant_id] > cap
    ]


def quantities(lines: Sequence[LineCheck]) -> dict[str, int]:
    """Units to reserve per variant."""
    wanted: dict[str, int] = {}
    for line in lines:
        wanted[line.variant_id] = wanted.get(line.variant_id, 0) + line.quantity
    return wanted


def shortage_problems(
    lines: Sequence[LineCheck], available: Mapping[str, int]
) -> list[dict[str, object]]:
    """The lines whose variant could not be reserved, with what is free of it."""
    return [
        {
            "item_id": line.item_id,
            "code": "insufficient_stock",
            "available_quantity": available[line.variant_id],
            "message": f"Only {available[line.variant_id]} left",
        }
        for line in lines
        if line.variant_id in available
    ]
