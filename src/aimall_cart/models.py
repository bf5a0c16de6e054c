"""Every table, imported in one place so metadata is complete for migrations and checks."""

from aimall_cart.analytics.models import DailyFigures, RollupGap, RollupState
from aimall_cart.carts.models import Cart, CartEvent, CartItem, DiscountCode
from aimall_cart.catalog.models import Product, Variant
from aimall_cart.checkout.models import CartArchive, Checkout, Order, OrderLine
from aimall_cart.clock import ClockOffset
from aimall_cart.db import Base
from aimall_cart.events import OutboxEvent
from aimall_cart.health import WorkerHeartbeat
from aimall_cart.idempotency import IdempotencyRecord
from aimall_cart.inventory.models import Inventory, Reservation
from aimall_cart.privacy.models import Preferences
from aimall_cart.recovery.models import (
    Assignment,
    Decision,
    Notification,
    PolicyRecord,
    RecoveryCase,
)

metadata = Base.metadata

__all__ = [
    "Assignment",
    "Cart",
    "CartArchive",
    "CartEvent",
    "CartItem",
    "Checkout",
    "ClockOffset",
    "DailyFigures",
    "Decision",
    "DiscountCode",
    "IdempotencyRecord",
    "Inventory",
    "Notification",
    "Order",
    "OrderLine",
    "OutboxEvent",
    "PolicyRecord",
    "Preferences",
    "Product",
    "RecoveryCase",
    "Reservation",
    "RollupGap",
    "RollupState",
    "Variant",
    "WorkerHeartbeat",
    "metadata",
]
