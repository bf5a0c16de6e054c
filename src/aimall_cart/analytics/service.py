"""Reading the figures: from the daily roll-ups for a range of days, never the raw event log; and
the value sitting in open carts now, from the carts themselves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.analytics.models import ALL, DailyFigures, RollupState
from aimall_cart.analytics.rules import FIGURE_NAMES, Figures
from aimall_cart.carts.models import OPEN_STATUSES, Cart, CartItem
from aimall_cart.catalog.models import Product
from aimall_cart.errors import Invalid

# The longest range one question may span.
MAX_RANGE_DAYS = 366


class InvalidRange(Invalid):
    code = "invalid_range"


@dataclass(frozen=True, slots=True)
class ProductFigures:
    seller_id: str
    product_id: str
    name: str | None
    figures: Figures


# Days a question may name: anything else is a typo, and would overflow the date arithmetic.
EARLIEST, LATEST = date(2000, 1, 1), date(9998, 12, 31)


def day_range(first: date | None, last: date | None, *, today: date) -> tuple[date, date]:
    """``first`` to ``last`` inclusive; by default the 30 days that end today."""
    last = last or today
    for day in (first, last):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise InvalidRange(f"Days run from {EARLIEST} to {LATEST}", day=str(day))
    first = first or max(last - timedelta(days=29), EARLIEST)
    if first > last:
        raise InvalidRange("`from` is after `to`", first=str(first), last=str(last))
    if (last - first).days >= MAX_RANGE_DAYS:
        raise InvalidRange(f"A range spans at most {MAX_RANGE_DAYS} days", days=MAX_RANGE_DAYS)
    return first, last


def _sums() -> list[ColumnElement[Any]]:
    return [func.coalesce(func.sum(getattr(DailyFigures, name)), 0) for name in FIGURE_NAMES]


def _figures(row: Any, offset: int) -> Figures:
    return Figures(*(int(value) for value in row[offset : offset + len(FIGURE_NAMES)]))


def _between(first: date, last: date) -> list[ColumnElement[bool]]:
    return [DailyFigures.day >= first, DailyFigures.day <= last]


async def daily(
    session: AsyncSession, *, first: date, last: date, seller_id: str = ALL
) -> dict[date, Figures]:
    """One seller's days (the platform's with ``ALL``), the days without figures left out."""
    stmt = (
        select(DailyFigures.day, *_sums())
        .where(
            *_between(first, last),
            DailyFigures.seller_id == seller_id,
            DailyFigures.product_id == ALL,
        )
        .group_by(DailyFigures.day)
        .order_by(DailyFigures.day)
    )
    return {row[0]: _figures(row, 1) for row in await session.execute(stmt)}


def _per_product(first: date, last: date) -> Select[*tuple[Any, ...]]:
    return (
        select(DailyFigures.seller_id, DailyFigures.product_id, Product.name, *_sums())
        .outerjoin(Product, Product.id == DailyFigures.product_id)
        .where(*_between(first, last), DailyFigures.product_id != ALL)
        .group_by(DailyFigures.seller_id, DailyFigures.product_id, Product.name)
    )


async def products(
    session: AsyncSession, *, first: date, last: date, seller_id: str
) -> list[ProductFigures]:
    stmt = _per_product(first, last).where(DailyFigures.seller_id == seller_id)
    rows = await session.execute(stmt.order_by(DailyFigures.product_id))
    return [ProductFigures(row[0], row[1], row[2], _figures(row, 3)) for row in rows]


async def most_abandoned(
    session: AsyncSession, *, first: date, last: date, limit: int
) -> list[ProductFigures]:
    abandoned = func.sum(DailyFigures.abandoned_carts)
    stmt = (
        _per_product(first, last)
        .having(abandoned > 0)
        .order_by(abandoned.desc(), DailyFigures.product_id)
        .limit(limit)
    )
    return [
        ProductFigures(row[0], row[1], row[2], _figures(row, 3))
        for row in await session.execute(stmt)
    ]


async def sellers(session: AsyncSession, *, first: date, last: date) -> dict[str, Figures]:
    stmt = (
        select(DailyFigures.seller_id, *_sums())
        .where(
            *_between(first, last),
            DailyFigures.seller_id != ALL,
            DailyFigures.product_id == ALL,
        )
        .group_by(DailyFigures.seller_id)
        .order_by(DailyFigures.seller_id)
    )
    return {row[0]: _figures(row, 1) for row in await session.execute(stmt)}


def _open_lines() -> Select[*tuple[Any, ...]]:
    """What the lines in open carts are worth now, at their snapshot prices, per seller."""
    return (
        select(
            Product.seller_id,
            func.sum(CartItem.quantity * (CartItem.unit_price - CartItem.discount)),
        )
        .join(Cart, Cart.id == CartItem.cart_id)
        .join(Product, Product.id == CartItem.product_id)
        .where(Cart.status.in_(OPEN_STATUSES))
        .group_by(Product.seller_id)
    )


async def open_value(session: AsyncSession, *, seller_id: str) -> int:
    stmt = _open_lines().where(Product.seller_id == seller_id)
    return sum(int(value or 0) for _, value in await session.execute(stmt))


async def open_values(session: AsyncSession) -> dict[str, int]:
    return {seller: int(value or 0) for seller, value in await session.execute(_open_lines())}


async def refreshed_at(session: AsyncSession) -> datetime | None:
    return await session.scalar(select(RollupState.refreshed_at).where(RollupState.id == 1))


async def seller_exists(session: AsyncSession, seller_id: str) -> bool:
    found = await session.scalar(select(Product.id).where(Product.seller_id == seller_id).limit(1))
    return found is not None
