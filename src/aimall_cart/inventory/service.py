"""Stock on hand and what of it is free."""

from __future__ import annotations

from collections.abc import Collection
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.errors import Conflict
from aimall_cart.inventory.models import Inventory


class StockBelowReserved(Conflict):
    code = "stock_below_reserved"


class StockLevel(NamedTuple):
    on_hand: int
    available: int


async def levels(session: AsyncSession, variant_ids: Collection[str]) -> dict[str, StockLevel]:
    """Units on hand and free (on hand less reserved) per variant; unknown variants are absent."""
    if not variant_ids:
        return {}
    rows = await session.execute(
        select(Inventory.variant_id, Inventory.on_hand, Inventory.reserved).where(
            Inventory.variant_id.in_(variant_ids)
        )
    )
    return {
        variant_id: StockLevel(on_hand, max(on_hand - reserved, 0))
        for variant_id, on_hand, reserved in rows
    }


async def set_on_hand(session: AsyncSession, *, variant_id: str, on_hand: int) -> None:
    """Set the units on hand; refuses to drop below what checkouts hold reserved."""
    stock = await session.get(Inventory, variant_id, with_for_update=True)
    if stock is None:
        session.add(Inventory(variant_id=variant_id, on_hand=on_hand, reserved=0))
        return
    if on_hand < stock.reserved:
        raise StockBelowReserved(
            f"{stock.reserved} units are reserved by checkouts; stock cannot go below that",
            variant_id=variant_id,
            reserved=stock.reserved,
        )
    stock.on_hand = on_hand
