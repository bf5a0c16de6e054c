"""Catalog request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from aimall_cart.fields import CatalogId, Currency, Line, Money, Name, Options, Stock, Text, WebUrl

Status = Literal["active", "inactive"]
QuantityBound = Annotated[int, Field(ge=1, le=10_000)]


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variant_id: CatalogId
    options: Options = Field(default_factory=dict)
    price: Money
    discount: Money = 0
    stock: Stock
    status: Status = "active"

    @model_validator(mode="after")
    def _discount_within_price(self) -> Self:
        if self.discount > self.price:
            raise ValueError("discount must not exceed price")
        return self


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seller_id: CatalogId | None = None
    name: Name
    description: Annotated[Text, StringConstraints(max_length=10_000)] = ""
    category: Annotated[Line, StringConstraints(min_length=1, max_length=120)] | None = None
    thumbnail_url: WebUrl | None = None
    status: Status = "active"
    currency: Currency
    min_quantity: QuantityBound = 1
    max_quantity: QuantityBound = 99
    variants: Annotated[list[VariantIn], Field(min_length=1, max_length=200)]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.min_quantity > self.max_quantity:
            raise ValueError("min_quantity must not exceed max_quantity")
        ids = [v.variant_id for v in self.variants]
        if len(set(ids)) != len(ids):
            raise ValueError("variant_id values must be unique")
        option_sets = [tuple(sorted(v.options.items())) for v in self.variants]
        if len(set(option_sets)) != len(option_sets):
            raise ValueError("each variant needs its own options")
        return self


class VariantPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    price: Money | None = None
    discount: Money | None = None
    stock: Stock | None = None
    status: Status | None = None


class VariantOut(BaseModel):
    variant_id: str
    options: dict[str, str]
    price: int
    discount: int
    status: Status
    stock: int
    available: int


class ProductOut(BaseModel):
    id: str
    seller_id: str
    name: str
    description: str
    category: str | None
    thumbnail_url: str | None
    status: Status
    currency: str
    min_quantity: int
    max_quantity: int
    variants: list[VariantOut]
    created_at: datetime
    updated_at: datetime


class ProductPage(BaseModel):
    items: list[ProductOut]
    next_cursor: str | None
