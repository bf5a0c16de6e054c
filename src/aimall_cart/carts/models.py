"""Carts and their lines. The cart row is the lock for every change to the cart."""

from __future__ import annotations

import secrets
import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aimall_cart.db import Base

OPEN_STATUSES = ("active", "locked")
EVENT_KINDS = (
    "cart_created",
    "item_added",
    "item_removed",
    "quantity_changed",
    "checkout_started",
    "checkout_completed",
    "checkout_expired",
    "cart_abandoned",
    "cart_recovered",
    "cart_merged",
)
_OPEN = text("status IN ('active', 'locked')")


def new_analytics_key() -> str:
    return secrets.token_hex(16)


class Cart(Base):
    __tablename__ = "carts"
    __table_args__ = (
        CheckConstraint(
            "status IN ('active', 'locked', 'checked_out', 'merged', 'expired')", name="status"
        ),
        CheckConstraint("user_id IS NOT NULL OR guest_token_hash IS NOT NULL", name="has_owner"),
        # One open cart per member: the database says so, whatever the application does.
        Index(
            "uq_carts_open_member",
            "user_id",
            unique=True,
            postgresql_where=_OPEN,
            sqlite_where=_OPEN,
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[str | None] = mapped_column(String(128))
    guest_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    currency: Mapped[str] = mapped_column(String(3))
    version: Mapped[int] = mapped_column(default=1)
    # While a checkout holds the cart: when its reservation lapses and the cart is free again.
    locked_until: Mapped[datetime | None]
    # Set when a guest cart is merged into a member's, so a repeated merge can say "already done".
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("carts.id"))
    # The promotion code applied to the cart, honoured at checkout while it is valid.
    discount_code_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("discount_codes.id"))
    # Codes the shopper tried that were refused: a sign that price is what holds them back.
    discount_attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_activity_at: Mapped[datetime]
    # ``last_activity_at`` as it stood when it last moved a minute or more: indexed in its place,
    # so that most changes of a cart leave its indexes alone (carts/activity.py).
    activity_mark: Mapped[datetime] = mapped_column(index=True)
    # The cart's pseudonym in the event log: random, so nothing outside this row links the log
    # to the cart, and erasing the cart leaves the log naming no one.
    analytics_key: Mapped[str] = mapped_column(String(32), default=new_analytics_key)
    # When the cart was last found abandoned; a later ``last_activity_at`` means it came back.
    abandoned_at: Mapped[datetime | None]

    items: Mapped[list[CartItem]] = relationship(
        back_populates="cart",
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="(CartItem.created_at, CartItem.id)",
    )


class CartItem(Base):
    __tablename__ = "cart_items"
    __table_args__ = (
        UniqueConstraint("cart_id", "line_key", name="uq_cart_items_cart_id_line_key"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "unit_price >= 0 AND discount >= 0 AND discount <= unit_price", name="price"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    cart_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    line_key: Mapped[str] = mapped_column(String(64))
    # Product reference and price snapshot as they were when the line was added; the catalog
    # may change or drop the product afterwards, so these are deliberately not foreign keys.
    product_id: Mapped[str] = mapped_column(String(128), index=True)
    variant_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(300))
    thumbnail_url: Mapped[str | None] = mapped_column(String(2000))
    options: Mapped[dict[str, str]]
    quantity: Mapped[int]
    unit_price: Mapped[int]
    discount: Mapped[int]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    cart: Mapped[Cart] = relationship(back_populates="items", lazy="raise")


class DiscountCode(Base):
    """A single-use promotion bound to one customer, issued by abandoned-cart recovery.

    Redeeming is one conditional update (``redeemed_at IS NULL``) in the transaction that places
    the order, so a code pays for one order at most, whatever the races.
    """

    __tablename__ = "discount_codes"
    __table_args__ = (
        CheckConstraint("percent > 0 AND percent <= 100", name="percent"),
        Index("ix_discount_codes_user_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[str] = mapped_column(String(128))
    # The cart it was issued for (a note, not a reference: carts point at codes, not back);
    # any open cart of the same customer may use it.
    issued_for_cart_id: Mapped[uuid.UUID | None]
    percent: Mapped[int]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    redeemed_at: Mapped[datetime | None]
    order_id: Mapped[uuid.UUID | None]


class CartEvent(Base):
    """The append-only log of what happened in carts, written in the transaction of the change.

    It names the cart only by its ``analytics_key`` and never the customer. Events about a line
    carry its product, variant, seller, the change in quantity and its value (at the line's net
    price, in ``currency``); cart-wide events such as a checkout are written once per line, so
    every figure can be cut by seller and product.
    """

    __tablename__ = "cart_events"
    __table_args__ = (
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{kind}'" for kind in EVENT_KINDS) + ")", name="kind"
        ),
        Index("ix_cart_events_day", "day"),
        Index("ix_cart_events_cart_key_kind", "cart_key", "kind"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    occurred_at: Mapped[datetime]
    day: Mapped[date]  # occurred_at's UTC date, what the daily roll-ups group by
    kind: Mapped[str] = mapped_column(String(24))
    cart_key: Mapped[str] = mapped_column(String(32))
    seller_id: Mapped[str | None] = mapped_column(String(128))
    product_id: Mapped[str | None] = mapped_column(String(128))
    variant_id: Mapped[str | None] = mapped_column(String(128))
    quantity_delta: Mapped[int] = mapped_column(default=0)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str | None] = mapped_column(String(3))
    # Why a line was left, for ``cart_abandoned``: price, availability or other.
    reason: Mapped[str | None] = mapped_column(String(16))
