"""Stock per variant. ``reserved`` never exceeds ``on_hand``: the CHECK is the last line."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from aimall_cart.db import Base


class Inventory(Base):
    __tablename__ = "inventory"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_non_negative"),
        CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within_on_hand"),
    )

    variant_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("variants.id", ondelete="CASCADE"), primary_key=True
    )
    on_hand: Mapped[int]
    reserved: Mapped[int] = mapped_column(default=0)


class Reservation(Base):
    """Units held for a checkout (the holder) until ``expires_at``; ``inventory.reserved`` counts
    every ``held`` row, expired or not, until it is released or committed."""

    __tablename__ = "reservations"
    __table_args__ = (
        CheckConstraint("status IN ('held', 'committed', 'released')", name="status"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_reservations_holder_id_status", "holder_id", "status"),
        Index("ix_reservations_status_expires_at", "status", "expires_at"),
        Index("ix_reservations_variant_id_status", "variant_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    holder_id: Mapped[uuid.UUID]
    variant_id: Mapped[str] = mapped_column(ForeignKey("inventory.variant_id", ondelete="CASCADE"))
    quantity: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]
