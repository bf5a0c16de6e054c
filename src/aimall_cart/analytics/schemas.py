"""The analytics answers. Withheld seller cells carry only their key and ``suppressed``; the
routes leave unset fields out, so a withheld figure is absent, not null."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from aimall_cart.recovery.report import ReportOut


class Reasons(BaseModel):
    price: int
    availability: int
    other: int


class Rates(BaseModel):
    abandonment_rate: float | None = None
    conversion_rate: float | None = None
    recovery_rate: float | None = None


class SellerTotals(Rates):
    suppressed: bool
    carts: int | None = None
    units_added: int | None = None
    abandoned_carts: int | None = None
    recovered_carts: int | None = None
    converted_carts: int | None = None
    value_in_open_carts: int | None = None


class SellerProduct(BaseModel):
    product_id: str
    suppressed: bool
    name: str | None = None
    carts: int | None = None
    units_added: int | None = None
    abandoned_carts: int | None = None
    recovered_carts: int | None = None
    converted_carts: int | None = None
    abandonment_rate: float | None = None
    reasons: Reasons | None = None


class SellerDay(BaseModel):
    date: date
    suppressed: bool
    carts: int | None = None
    units_added: int | None = None
    abandoned_carts: int | None = None
    converted_carts: int | None = None


class SellerAnalytics(BaseModel):
    seller_id: str
    from_: date = Field(serialization_alias="from")
    to: date
    min_group: int
    totals: SellerTotals
    products: list[SellerProduct]
    series: list[SellerDay]


class Figures(Rates):
    carts: int
    units_added: int
    value_added: int
    checkouts_started: int
    converted_carts: int
    converted_value: int
    abandoned_carts: int
    abandoned_value: int
    recovered_carts: int


class AdminTotals(Figures):
    carts_created: int
    value_in_open_carts: int


class SellerSummary(Figures):
    seller_id: str
    value_in_open_carts: int


class Funnel(BaseModel):
    carts_created: int
    carts_with_items: int
    checkouts_started: int
    orders: int


class AbandonedProduct(BaseModel):
    product_id: str
    name: str | None
    seller_id: str
    carts: int
    abandoned_carts: int
    abandonment_rate: float | None
    abandoned_value: int
    reasons: Reasons


class AdminDay(BaseModel):
    date: date
    carts_created: int
    carts: int
    units_added: int
    checkouts_started: int
    converted_carts: int
    abandoned_carts: int
    recovered_carts: int
    value_added: int
    converted_value: int
    abandoned_value: int
    abandonment_rate: float | None
    conversion_rate: float | None
    recovery_rate: float | None


class AdminAnalytics(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    currency: str
    as_of: datetime | None  # when the roll-ups last read the event log
    totals: AdminTotals
    funnel: Funnel
    reasons: Reasons
    most_abandoned_products: list[AbandonedProduct]
    sellers: list[SellerSummary]
    recovery: ReportOut
    series: list[AdminDay]
