"""Rolling the cart event log up by day, per product, per seller and for the platform.

A refresh recomputes whole days, from the earliest day with events it has not read, and never
later than the day the previous refresh ran a few minutes before (an event can commit after one
with a higher id was read, but only as late as a transaction lasts), so it is idempotent and
exact, and in the steady state redoes today only. The state row is the lock: two workers
refreshing at once take turns. The caller commits.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    and_,
    case,
    delete,
    distinct,
    exists,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from aimall_cart.analytics.models import DailyFigures, RollupState
from aimall_cart.carts.models import CartEvent

_daily = cast(Table, DailyFigures.__table__)
_earlier = aliased(CartEvent)

# Longer than any transaction that writes events lasts (the longest, a recovery batch, takes
# seconds): no event commits later than this after it was stamped.
LATE_COMMIT_MARGIN = timedelta(minutes=5)

# A cart takes a product when a line of it is added or merged in.
_TAKES = ("item_added", "cart_merged")


def _took(event: type[CartEvent] | Any) -> ColumnElement[bool]:
    return and_(event.kind.in_(_TAKES), event.quantity_delta > 0)


def _carts_of(kind: str, *extra: ColumnElement[bool]) -> ColumnElement[int]:
    return func.count(distinct(case((and_(CartEvent.kind == kind, *extra), CartEvent.cart_key))))


def _value_of(kind: str) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((CartEvent.kind == kind, CartEvent.value), else_=0)), 0)


def _figures(first_time: ColumnElement[bool]) -> list[ColumnElement[Any]]:
    """The roll-up's figures, in ``DailyFigures`` column order after the key."""
    took = _took(CartEvent)
    abandoned = "cart_abandoned"
    return [
        func.count(case((CartEvent.kind == "cart_created", 1))),
        func.count(distinct(case((and_(took, first_time), CartEvent.cart_key)))),
        func.coalesce(func.sum(case((took, CartEvent.quantity_delta), else_=0)), 0),
        func.coalesce(func.sum(case((took, CartEvent.value), else_=0)), 0),
        _carts_of("checkout_started"),
        _carts_of("checkout_completed"),
        _value_of("checkout_completed"),
        _carts_of(abandoned),
        _value_of(abandoned),
        _carts_of("cart_recovered"),
        _carts_of(abandoned, CartEvent.reason == "price"),
        _carts_of(abandoned, CartEvent.reason == "availability"),
        _carts_of(abandoned, CartEvent.reason == "other"),
    ]


_FIGURE_COLUMNS = [
    "carts_created",
    "carts",
    "units_added",
    "value_added",
    "checkouts_started",
    "converted_carts",
    "converted_value",
    "abandoned_carts",
    "abandoned_value",
    "recovered_carts",
    "reason_price",
    "reason_availability",
    "reason_other",
]


def _first_time(*same: ColumnElement[bool]) -> ColumnElement[bool]:
    """No earlier day on which this cart took the same product (or seller's product, or any)."""
    return ~exists().where(
        _earlier.cart_key == CartEvent.cart_key,
        _took(_earlier),
        _earlier.day < CartEvent.day,
        *same,
    )


def _grains(since: date) -> list[Any]:
    """One INSERT ... SELECT per grain: product, seller, platform."""
    everything = literal_column("''", String)
    sold = CartEvent.seller_id.is_not(None)
    grains = [
        (
            [CartEvent.seller_id, CartEvent.product_id],
            [sold, CartEvent.product_id.is_not(None)],
            _first_time(_earlier.product_id == CartEvent.product_id),
        ),
        (
            [CartEvent.seller_id],
            [sold],
            _first_time(_earlier.seller_id == CartEvent.seller_id),
        ),
        ([], [], _first_time()),
    ]
    statements = []
    for keys, where, first_time in grains:
        padded = [*keys, *[everything] * (2 - len(keys))]
        query = (
            select(CartEvent.day, *padded, *_figures(first_time))
            .where(CartEvent.day >= since, *where)
            .group_by(CartEvent.day, *keys)
        )
        columns = ["day", "seller_id", "product_id", *_FIGURE_COLUMNS]
        statements.append(insert(_daily).from_select(columns, query))
    return statements


async def refresh(session: AsyncSession, *, now: datetime) -> int:
    """Bring the roll-ups up to the events committed so far; answers how many days it redid."""
    state = await session.get(RollupState, 1, with_for_update=True)
    if state is None:
        state = RollupState(id=1, last_event_id=0, refreshed_at=now - LATE_COMMIT_MARGIN)
        session.add(state)
        await session.flush()
    newest = await session.scalar(select(func.max(CartEvent.id)))
    unread = await session.scalar(
        select(func.min(CartEvent.day)).where(CartEvent.id > state.last_event_id)
    )
    late = (state.refreshed_at - LATE_COMMIT_MARGIN).date()
    since = min(unread, late) if unread is not None else late
    await session.execute(delete(_daily).where(_daily.c.day >= since))
    for statement in _grains(since):
        await session.execute(statement)
    state.last_event_id = int(newest or 0)
    state.refreshed_at = now
    await session.flush()
    return (now.date() - since).days + 1


async def purge(session: AsyncSession, *, before: date, limit: int) -> int:
    """Raw events of days before ``before`` (the roll-ups stay), the oldest ``limit`` of them, so
    a day's events leave over several runs rather than in one long statement; how many went."""
    oldest = select(CartEvent.id).where(CartEvent.day < before).order_by(CartEvent.id).limit(limit)
    ids = list(await session.scalars(oldest))
    if ids:
        await session.execute(delete(CartEvent).where(CartEvent.id.in_(ids)))
    return len(ids)
