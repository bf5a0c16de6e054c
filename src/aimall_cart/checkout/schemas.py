"""Checkout and order request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StrictBool, StringConstraints

from aimall_cart.carts.schemas import ItemOut, Owner, PromotionOut, TotalsOut
from aimall_cart.fields import Text


class StartCheckout(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accept_price_changes: StrictBool = False


class CompleteCheckout(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payment_reference: Annotated[Text, StringConstraints(min_length=1, max_length=255)] | None = (
        None
    )


class CheckoutOut(BaseModel):
    id: uuid.UUID
    status: Literal["open", "completed", "cancelled", "expired"]
    cart_id: uuid.UUID
    cart_version: int
    currency: str
    lines: list[ItemOut]
    promotion: PromotionOut | None = None
    totals: TotalsOut
    expires_at: datetime
    created_at: datetime


class OrderLineOut(BaseModel):
    product_id: str
    variant_id: str
    name: str
    thumbnail_url: str | None
    options: dict[str, str]
    quantity: int
    unit_price: int
    discount: int
    line_total: int


class OrderPromotionOut(BaseModel):
    """The code the order redeemed and what it took off (included in ``totals.discount``)."""

    code: str
    amount: int


class OrderOut(BaseModel):
    id: uuid.UUID
    cart_id: uuid.UUID
    status: Literal["placed"]
    currency: str
    customer: Owner
    lines: list[OrderLineOut]
    totals: TotalsOut
    promotion: OrderPromotionOut | None = None
    payment_reference: str | None
    created_at: datetime
