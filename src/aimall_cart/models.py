"""Every table, imported in one place so metadata is complete for migrations and checks."""

from aimall_cart.carts.models import Cart, CartItem
from aimall_cart.catalog.models import Product, Variant
from aimall_cart.db import Base
from aimall_cart.idempotency import IdempotencyRecord
from aimall_cart.inventory.models import Inventory

metadata = Base.metadata

__all__ = [
    "Cart",
    "CartItem",
    "IdempotencyRecord",
    "Inventory",
    "Product",
    "Variant",
    "metadata",
]
