"""Cart request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator
from pydantic.json_schema import SkipJsonSchema

from aimall_cart.carts.rules import Flag, PromotionProblem
from aimall_cart.fields import CatalogId, Options, Quantity, Text


class AddItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: CatalogId
    variant_id: CatalogId | None = None
    quantity: Quantity = 1
    options: Options | None = None


class UpdateItem(BaseModel):
    """A quantity of 0 removes the line. A field left out is not changed; ``null`` is not a value
    of any of them, and the schema says so, with at least one field to change."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    quantity: Quantity | SkipJsonSchema[None] = None
    variant_id: CatalogId | SkipJsonSchema[None] = None
    options: Options | SkipJsonSchema[None] = None

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(value is None for value in data.values()):
            raise ValueError("leave a field out instead of sending null")
        return data

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        if self.quantity is None and self.variant_id is None and self.options is None:
            raise ValueError("give quantity, variant_id or options")
        return self


class ApplyDiscount(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[Text, StringConstraints(min_length=1, max_length=64)]


class Owner(BaseModel):
    type: Literal["guest", "member"]
    user_id: str | None = None


class ItemOut(BaseModel):
    id: uuid.UUID
    product_id: str
    variant_id: str
    name: str
    thumbnail_url: str | None
    options: dict[str, str]
    quantity: int
    min_quantity: int | None
    max_quantity: int | None
    unit_price: int
    discount: int
    line_total: int
    current_unit_price: int | None
    current_discount: int | None
    available_quantity: int | None
    flags: list[Flag]


class TotalsOut(BaseModel):
    subtotal: int
    discount: int
    total: int
    item_count: int


class IssueOut(BaseModel):
    """A line's flag, or (without ``item_id``) a problem of the applied discount code."""

    item_id: uuid.UUID | None
    code: Flag | PromotionProblem
    message: str


class PromotionOut(BaseModel):
    """The applied code; ``amount`` is 0 while an issue says why it takes nothing off."""

    code: str
    percent: int
    amount: int
    expires_at: datetime


class CartOut(BaseModel):
    id: uuid.UUID
    status: Literal["active", "locked", "checked_out", "merged", "expired"]
    version: int
    currency: str
    owner: Owner
    items: list[ItemOut]
    discount_code: str | None = None
    promotion: PromotionOut | None = None
    totals: TotalsOut
    checkout_blocked: bool
    issues: list[IssueOut]
    created_at: datetime
    updated_at: datetime
    guest_token: str | None = None


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategy: Literal["sum", "max", "keep_member", "replace"] = "sum"


class MergeLineOut(BaseModel):
    product_id: str
    variant_id: str
    options: dict[str, str]
    source: Literal["guest", "member"]
    quantity: int
    guest_quantity: int
    member_quantity: int
    reason: str | None = None


class MergeReportOut(BaseModel):
    strategy: Literal["sum", "max", "keep_member", "replace"]
    preview: bool
    added: list[MergeLineOut]
    combined: list[MergeLineOut]
    clamped: list[MergeLineOut]
    dropped: list[MergeLineOut]


class MergeOut(BaseModel):
    cart: CartOut
    merge: MergeReportOut
