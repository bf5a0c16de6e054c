"""The catalog read model: products and their variants."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aimall_cart.db import Base


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'inactive')", name="status"),
        CheckConstraint(
            "min_quantity >= 1 AND max_quantity >= min_quantity", name="quantity_bounds"
        ),
        Index("ix_products_category_status", "category", "status"),
    )

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    seller_id: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str | None] = mapped_column(String(120))
    thumbnail_url: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    min_quantity: Mapped[int]
    max_quantity: Mapped[int]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    variants: Mapped[list[Variant]] = relationship(
        back_populates="product", lazy="raise", order_by="Variant.id"
    )


class Variant(Base):
    __tablename__ = "variants"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'inactive')", name="status"),
        CheckConstraint("price >= 0 AND discount >= 0 AND discount <= price", name="price"),
    )

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    product_id: Mapped[str] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    options: Mapped[dict[str, str]]
    price: Mapped[int]
    discount: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime]

    product: Mapped[Product] = relationship(back_populates="variants", lazy="raise")
