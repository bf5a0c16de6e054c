"""Carts, lines and products as plain records, built from the hot path's rows.

The hot path never builds ORM objects: ``queries`` hands back rows, and these records carry them
to the rules and the response. They have the attribute names of the ORM models, so the one
presenter renders either.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aimall_cart.carts import rules
from aimall_cart.sql import Row


@dataclass(slots=True)
class LineRecord:
    id: uuid.UUID
    line_key: str
    product_id: str
    variant_id: str
    name: str
    thumbnail_url: str | None
    options: dict[str, str]
    quantity: int
    unit_price: int
    discount: int
    created_at: datetime


@dataclass(slots=True)
class CartRecord:
    id: uuid.UUID
    user_id: str | None
    status: str
    currency: str
    version: int
    locked_until: datetime | None
    created_at: datetime
    updated_at: datetime
    analytics_key: str
    items: list[LineRecord] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class VariantRecord:
    id: str
    options: dict[str, str]
    price: int
    discount: int
    active: bool
    available: int


@dataclass(frozen=True, slots=True)
class ProductRecord:
    id: str
    name: str
    thumbnail_url: str | None
    active: bool
    currency: str
    min_quantity: int
    max_quantity: int
    variants: tuple[VariantRecord, ...]

    def offer(self, variant: VariantRecord) -> rules.Offer:
        return rules.Offer(
            active=self.active and variant.active,
            unit_price=variant.price,
            discount=variant.discount,
            available=variant.available,
            min_quantity=self.min_quantity,
            max_quantity=self.max_quantity,
        )


@dataclass(frozen=True, slots=True)
class CodeRecord:
    code: str
    percent: int
    expires_at: datetime
    redeemed: bool


@dataclass(slots=True)
class CartRows:
    """What one read of ``queries.CART_BY_*`` says of a cart."""

    cart: CartRecord
    offers: dict[str, rules.Offer]
    code: CodeRecord | None


def _available(free: Any) -> int:
    # No stock row reads as nothing free; lapsed holds can briefly push the sum below zero.
    return max(int(free or 0), 0)


def cart_from_rows(rows: Sequence[Row]) -> CartRows | None:
    """The cart in ``rows``; rows of a product read with it (``id`` NULL) are left out."""
    rows = [row for row in rows if row["id"] is not None]
    if not rows:
        return None
    head = rows[0]
    cart = CartRecord(
        head["id"],
        head["user_id"],
        head["status"],
        head["currency"],
        head["version"],
        head["locked_until"],
        head["created_at"],
        head["updated_at"],
        head["analytics_key"],
    )
    offers: dict[str, rules.Offer] = {}
    for row in rows:
        if row["line_id"] is None:
            continue  # the one row of an empty cart
        cart.items.append(
            LineRecord(
                row["line_id"],
                row["line_key"],
                row["product_id"],
                row["variant_id"],
                row["name"],
                row["thumbnail_url"],
                row["options"],
                row["quantity"],
                row["unit_price"],
                row["discount"],
                row["line_created_at"],
            )
        )
        if row["offer_variant_id"] is not None:
            offers[row["variant_id"]] = rules.Offer(
                active=bool(row["sold"]),
                unit_price=row["offer_price"],
                discount=row["offer_discount"],
                available=_available(row["free"]),
                min_quantity=row["min_quantity"],
                max_quantity=row["max_quantity"],
            )
    code = None
    if head["code"] is not None:
        code = CodeRecord(
            head["code"],
            head["code_percent"],
            head["code_expires_at"],
            head["code_redeemed_at"] is not None,
        )
    return CartRows(cart, offers, code)


def product_from_rows(rows: Sequence[Row]) -> ProductRecord | None:
    """The product in ``rows`` (its ``p_*`` columns); rows of a cart read with it are left out."""
    rows = [row for row in rows if row["p_id"] is not None]
    if not rows:
        return None
    head = rows[0]
    return ProductRecord(
        id=head["p_id"],
        name=head["p_name"],
        thumbnail_url=head["p_thumbnail_url"],
        active=head["p_status"] == "active",
        currency=head["p_currency"],
        min_quantity=head["p_min_quantity"],
        max_quantity=head["p_max_quantity"],
        variants=tuple(
            VariantRecord(
                row["p_variant_id"],
                row["p_options"],
                row["p_price"],
                row["p_discount"],
                row["p_variant_status"] == "active",
                _available(row["p_free"]),
            )
            for row in rows
            if row["p_variant_id"] is not None
        ),
    )
