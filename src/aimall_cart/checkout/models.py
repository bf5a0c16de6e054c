"""Checkouts, the orders they become, and the archive of checked-out carts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aimall_cart.db import Base

_OPEN = text("status = 'open'")


class Checkout(Base):
    __tablename__ = "checkouts"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'completed', 'cancelled', 'expired')", name="status"),
        # A cart has one checkout in progress at most.
        Index(
            "uq_checkouts_open_cart",
            "cart_id",
            unique=True,
            postgresql_where=_OPEN,
            sqlite_where=_OPEN,
        ),
        Index("ix_checkouts_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    cart_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_user_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # One order per cart, whatever the retries: the database says so.
    cart_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carts.id"), unique=True)
    checkout_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("checkouts.id"), unique=True)
    user_id: Mapped[str | None] = mapped_column(String(128))
    guest_token_hash: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[int] = mapped_column(BigInteger)
    # Line discounts plus the promotion's, which is also kept on its own as the promotion's cost.
    discount: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    item_count: Mapped[int]
    promotion_code: Mapped[str | None] = mapped_column(String(32))
    promotion_discount: Mapped[int] = mapped_column(BigInteger, default=0)
    payment_reference: Mapped[str | None] = mapped_column(Text)  # sealed
    created_at: Mapped[datetime]

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order",
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="OrderLine.position",
    )


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    product_id: Mapped[str] = mapped_column(String(128), index=True)
    variant_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(300))
    thumbnail_url: Mapped[str | None] = mapped_column(String(2000))
    options: Mapped[dict[str, str]]
    quantity: Mapped[int]
    unit_price: Mapped[int]
    discount: Mapped[int]
    line_total: Mapped[int] = mapped_column(BigInteger)

    order: Mapped[Order] = relationship(back_populates="lines", lazy="raise")


class CartArchive(Base):
    """A checked-out cart as it stood, kept after its lines are cleared."""

    __tablename__ = "cart_archives"

    cart_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("carts.id", ondelete="CASCADE"), primary_key=True
    )
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"))
    snapshot: Mapped[dict[str, Any]]
    archived_at: Mapped[datetime] = mapped_column(index=True)
