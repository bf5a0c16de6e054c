"""Stock on hand, what checkouts hold of it, and what is free.

Free stock is ``on_hand - reserved`` plus whatever expired holds have not been swept yet, so a
lapsed checkout gives its units back the moment it expires. A transaction locks reservation rows
first, then touches each ``inventory`` row once, in sorted variant order, with one statement per
variant: one global lock order, so concurrent checkouts, sweeps and stock writes never deadlock.
The ``CHECK (reserved <= on_hand)`` is the backstop.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.errors import Conflict
from aimall_cart.inventory.models import Inventory, Reservation


class StockBelowReserved(Conflict):
    code = "stock_below_reserved"


class StockLevel(NamedTuple):
    on_hand: int
    available: int


class Shortage(NamedTuple):
    variant_id: str
    requested: int
    available: int


async def _expired_holds(
    session: AsyncSession, variant_ids: Collection[str], now: datetime
) -> dict[str, int]:
    rows = await session.execute(
        select(Reservation.variant_id, func.sum(Reservation.quantity))
        .where(
            Reservation.variant_id.in_(variant_ids),
            Reservation.status == "held",
            Reservation.expires_at <= now,
        )
        .group_by(Reservation.variant_id)
    )
    return {variant_id: int(quantity) for variant_id, quantity in rows}


async def _own_holds(
    session: AsyncSession, variant_ids: Collection[str], holder_id: uuid.UUID, now: datetime
) -> dict[str, int]:
    rows = await session.execute(
        select(Reservation.variant_id, func.sum(Reservation.quantity))
        .where(
            Reservation.variant_id.in_(variant_ids),
            Reservation.holder_id == holder_id,
            Reservation.status == "held",
            Reservation.expires_at > now,
        )
        .group_by(Reservation.variant_id)
    )
    return {variant_id: int(quantity) for variant_id, quantity in rows}


async def levels(
    session: AsyncSession,
    variant_ids: Collection[str],
    *,
    now: datetime,
    holder_id: uuid.UUID | None = None,
) -> dict[str, StockLevel]:
    """Units on hand and free per variant; unknown variants are absent. For ``holder_id`` the
    units it holds itself count as free, since they are its to take."""
    if not variant_ids:
        return {}
    rows = await session.execute(
        select(Inventory.variant_id, Inventory.on_hand, Inventory.reserved).where(
            Inventory.variant_id.in_(variant_ids)
        )
    )
    lapsed = await _expired_holds(session, variant_ids, now)
    if holder_id is not None:
        for variant_id, held in (await _own_holds(session, variant_ids, holder_id, now)).items():
            lapsed[variant_id] = lapsed.get(variant_id, 0) + held
    return {
        variant_id: StockLevel(on_hand, max(on_hand - reserved + lapsed.get(variant_id, 0), 0))
        for variant_id, on_hand, reserved in rows
    }


async def _unreserve(session: AsyncSession, held: Mapping[str, int], *, sold: bool) -> None:
    for variant_id in sorted(held):
        quantity = held[variant_id]
        values = {"reserved": Inventory.reserved - quantity}
        if sold:
            values["on_hand"] = Inventory.on_hand - quantity
        await session.execute(
            update(Inventory).where(Inventory.variant_id == variant_id).values(**values)
        )


def _by_variant(rows: Collection[tuple[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for variant_id, quantity in rows:
        totals[variant_id] += quantity
    return dict(totals)


async def _take_lapsed(
    session: AsyncSession,
    *,
    now: datetime,
    variant_ids: Collection[str] | None,
    limit: int | None = None,
    skip_locked: bool = False,
) -> tuple[dict[str, int], set[uuid.UUID]]:
    """Mark held reservations past their expiry released; answers the units freed per variant
    and the holders touched. The caller gives the units back to ``inventory``."""
    stmt = (
        select(Reservation.holder_id, Reservation.variant_id, Reservation.quantity, Reservation.id)
        .where(Reservation.status == "held", Reservation.expires_at <= now)
        .order_by(Reservation.variant_id, Reservation.id)
        .with_for_update(skip_locked=skip_locked)
        .limit(limit)
    )
    if variant_ids is not None:
        stmt = stmt.where(Reservation.variant_id.in_(variant_ids))
    rows = (await session.execute(stmt)).all()
    if rows:
        await session.execute(
            update(Reservation)
            .where(Reservation.id.in_([row[3] for row in rows]))
            .values(status="released")
        )
    return _by_variant([(r[1], r[2]) for r in rows]), {r[0] for r in rows}


async def release_expired(
    session: AsyncSession,
    *,
    now: datetime,
    limit: int | None = None,
    skip_locked: bool = False,
) -> set[uuid.UUID]:
    """Release holds past their expiry and free their units; answers the holders touched.

    The sweeper passes ``skip_locked`` so several can share the work.
    """
    freed, holders = await _take_lapsed(
        session, now=now, variant_ids=None, limit=limit, skip_locked=skip_locked
    )
    await _unreserve(session, freed, sold=False)
    return holders


async def set_on_hand(session: AsyncSession, *, on_hand: Mapping[str, int], now: datetime) -> None:
    """Set the units on hand of each variant; refuses to go below what live checkouts hold
    (lapsed holds are released in the same pass, as they no longer hold anything)."""
    freed, _ = await _take_lapsed(session, now=now, variant_ids=list(on_hand))
    for variant_id in sorted(on_hand):
        stock = await session.get(Inventory, variant_id, with_for_update=True)
        if stock is None:
            session.add(Inventory(variant_id=variant_id, on_hand=on_hand[variant_id], reserved=0))
            continue
        reserved = stock.reserved - freed.get(variant_id, 0)
        if on_hand[variant_id] < reserved:
            raise StockBelowReserved(
                f"{reserved} units are reserved by checkouts; stock cannot go below that",
                variant_id=variant_id,
                reserved=reserved,
            )
        stock.on_hand, stock.reserved = on_hand[variant_id], reserved


async def reserve(
    session: AsyncSession,
    *,
    holder_id: uuid.UUID,
    quantities: Mapping[str, int],
    now: datetime,
    expires_at: datetime,
) -> list[Shortage]:
    """Hold ``quantities`` for the holder, each by one conditional update in variant order; the
    same update gives back the units of lapsed holds on that variant.

    Answers the variants that could not be held; when there are any the caller must roll the
    transaction back, which undoes the holds that did succeed.
    """
    freed, _ = await _take_lapsed(session, now=now, variant_ids=list(quantities))
    shortages = []
    for variant_id in sorted(quantities):
        quantity, back = quantities[variant_id], freed.get(variant_id, 0)
        result = await session.execute(
            update(Inventory)
            .where(
                Inventory.variant_id == variant_id,
                Inventory.on_hand - Inventory.reserved + back >= quantity,
            )
            .values(reserved=Inventory.reserved - back + quantity)
        )
        if getattr(result, "rowcount", 0) == 1:
            session.add(
                Reservation(
                    id=uuid.uuid4(),
                    holder_id=holder_id,
                    variant_id=variant_id,
                    quantity=quantity,
                    status="held",
                    expires_at=expires_at,
                    created_at=now,
                )
            )
            continue
        free = await session.scalar(
            select(Inventory.on_hand - Inventory.reserved + back).where(
                Inventory.variant_id == variant_id
            )
        )
        shortages.append(Shortage(variant_id, quantity, max(int(free or 0), 0)))
    await session.flush()
    return shortages


async def _take_holds(
    session: AsyncSession, holder_id: uuid.UUID, *, status: str, now: datetime | None
) -> dict[str, int]:
    stmt = (
        update(Reservation)
        .where(Reservation.holder_id == holder_id, Reservation.status == "held")
        .values(status=status)
        .returning(Reservation.id, Reservation.variant_id, Reservation.quantity)
    )
    if now is not None:
        stmt = stmt.where(Reservation.expires_at > now)
    rows = (await session.execute(stmt)).all()
    return _by_variant([(r[1], r[2]) for r in rows])


async def commit_holds(
    session: AsyncSession, *, holder_id: uuid.UUID, now: datetime
) -> dict[str, int]:
    """Turn the holder's unexpired holds into sold stock; answers the units sold per variant
    (empty when the holds lapsed or were already taken)."""
    sold = await _take_holds(session, holder_id, status="committed", now=now)
    await _unreserve(session, sold, sold=True)
    return sold


async def release_holds(session: AsyncSession, *, holder_id: uuid.UUID) -> dict[str, int]:
    released = await _take_holds(session, holder_id, status="released", now=None)
    await _unreserve(session, released, sold=False)
    return released
