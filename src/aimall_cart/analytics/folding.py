"""The roll-ups' statements: whole days recomputed from scratch, and new events folded in.

Three grains: per seller and product, per seller (product ``ALL``) and for the platform (both
``ALL``). Folding adds the new events' sums to the rows by upsert. A cart figure gains a cart only
where no event read before already counts it for the same day and row; ``carts`` counts a cart
on the first day it took the product (the seller's, any), so a new event can also move that day
earlier, and the row of the later day then loses the cart. Gains and losses are exact in whatever
order events arrive, so a late commit is folded like any other event. Each lookup of a cart's
earlier events goes through the index on (cart_key, kind): a cart's events, never a day's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
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
    text,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.dml import ReturningInsert

from aimall_cart.analytics.models import DailyFigures
from aimall_cart.analytics.reading import Reading
from aimall_cart.carts.models import CartEvent

# An event's condition for counting its cart in a figure; takes CartEvent or an alias.
Condition = Callable[[Any], ColumnElement[bool]]

_daily = cast(Table, DailyFigures.__table__)
_KEY = ["day", "seller_id", "product_id"]
FIGURE_COLUMNS = [column.name for column in _daily.columns if column.name not in _KEY]

# A cart takes a product when a line of it is added or merged in.
_TAKES = ("item_added", "cart_merged")
_ABANDONED = "cart_abandoned"

_earlier = aliased(CartEvent, name="earlier")
_counted = aliased(CartEvent, name="counted")


def _took(event: Any) -> ColumnElement[bool]:
    return and_(event.kind.in_(_TAKES), event.quantity_delta > 0)


def _of(kind: str, reason: str | None = None) -> Condition:
    def condition(event: Any) -> ColumnElement[bool]:
        return (
            event.kind == kind
            if reason is None
            else and_(event.kind == kind, event.reason == reason)
        )

    return condition


@dataclass(frozen=True, slots=True)
class _Grain:
    row: tuple[str, ...]  # the event columns naming a roll-up row
    per: str | None  # ``carts`` counts a cart once per this (product, seller, or at all)

    def columns(self, event: Any) -> list[Any]:
        return [getattr(event, name) for name in self.row]

    def padded(self, event: Any) -> list[Any]:
        return [*self.columns(event), *[literal_column("''", String)] * (2 - len(self.row))]

    def holds(self, event: Any) -> list[ColumnElement[bool]]:
        return [getattr(event, name).is_not(None) for name in self.row]

    def same_row(self, one: Any, other: Any) -> list[ColumnElement[bool]]:
        return [getattr(one, name) == getattr(other, name) for name in self.row]

    def same_per(self, one: Any, other: Any) -> list[ColumnElement[bool]]:
        return [] if self.per is None else [getattr(one, self.per) == getattr(other, self.per)]


_GRAINS = (
    _Grain(("seller_id", "product_id"), "product_id"),
    _Grain(("seller_id",), "seller_id"),
    _Grain((), None),
)


def _figures(
    first_day: ColumnElement[bool], counts: Callable[[Condition], ColumnElement[bool]]
) -> list[ColumnElement[Any]]:
    """The figures of ``CartEvent`` rows, in ``FIGURE_COLUMNS`` order. ``counts(condition)``:
    whether an event that meets ``condition`` adds its cart; ``first_day``: whether a take is on
    the cart's first day with the grain's product (seller, any)."""
    event = CartEvent

    def carts(condition: Condition, *also: ColumnElement[bool]) -> ColumnElement[int]:
        return func.count(distinct(case((and_(counts(condition), *also), event.cart_key))))

    def total(condition: Condition, column: Any) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition(event), column), else_=0)), 0)

    figures: dict[str, ColumnElement[Any]] = {
        "carts_created": func.count(case((event.kind == "cart_created", 1))),
        "carts": carts(_took, first_day),
        "units_added": total(_took, event.quantity_delta),
        "value_added": total(_took, event.value),
        "checkouts_started": carts(_of("checkout_started")),
        "converted_carts": carts(_of("checkout_completed")),
        "converted_value": total(_of("checkout_completed"), event.value),
        "abandoned_carts": carts(_of(_ABANDONED)),
        "abandoned_value": total(_of(_ABANDONED), event.value),
        "recovered_carts": carts(_of("cart_recovered")),
        "reason_price": carts(_of(_ABANDONED, "price")),
        "reason_availability": carts(_of(_ABANDONED, "availability")),
        "reason_other": carts(_of(_ABANDONED, "other")),
    }
    return [figures[name] for name in FIGURE_COLUMNS]


def _first_day(grain: _Grain, read: Condition) -> ColumnElement[bool]:
    """No earlier day on which the cart took the same product (seller's product, any)."""
    return ~exists().where(
        _earlier.cart_key == CartEvent.cart_key,
        _took(_earlier),
        _earlier.day < CartEvent.day,
        *grain.same_per(_earlier, CartEvent),
        read(_earlier),
    )


def _everything(event: Any) -> ColumnElement[bool]:
    return true()


async def recompute(session: AsyncSession, *, since: date, read: Condition = _everything) -> None:
    """Days from ``since`` on, from scratch, out of the events ``read`` admits."""
    await session.execute(delete(_daily).where(_daily.c.day >= since))
    for grain in _GRAINS:
        query = (
            select(
                CartEvent.day,
                *grain.padded(CartEvent),
                *_figures(_first_day(grain, read), lambda condition: condition(CartEvent)),
            )
            .where(CartEvent.day >= since, *grain.holds(CartEvent), read(CartEvent))
            .group_by(CartEvent.day, *grain.columns(CartEvent))
        )
        await session.execute(insert(_daily).from_select([*_KEY, *FIGURE_COLUMNS], query))


def _gains(grain: _Grain, reading: Reading) -> Select[Any]:
    """What the new events add to each row they fall in."""

    def counts(condition: Condition) -> ColumnElement[bool]:
        # ``id !=`` says nothing new (a folded event is never a new one), but a lookup joined by
        # equalities alone PostgreSQL may answer by hashing every folded event of the kind.
        counted = exists().where(
            _counted.cart_key == CartEvent.cart_key,
            _counted.id != CartEvent.id,
            condition(_counted),
            _counted.day == CartEvent.day,
            *grain.same_row(_counted, CartEvent),
            reading.folded(_counted),
        )
        return and_(condition(CartEvent), ~counted)

    return (
        select(
            CartEvent.day,
            *grain.padded(CartEvent),
            *_figures(_first_day(grain, reading.read), counts),
        )
        .where(reading.new(CartEvent), *grain.holds(CartEvent))
        .group_by(CartEvent.day, *grain.columns(CartEvent))
    )


def _losses(grain: _Grain, reading: Reading) -> Select[Any]:
    """The carts counted on a day that a new take moves to an earlier first day, per row."""
    moved = select(
        _counted.day,
        *grain.padded(_counted),
        -func.count(distinct(_counted.cart_key)),
    ).join_from(
        CartEvent,
        _counted,
        and_(
            _counted.cart_key == CartEvent.cart_key,
            *grain.same_per(_counted, CartEvent),
            _counted.day > CartEvent.day,
        ),
    )
    return moved.where(
        reading.new(CartEvent),
        _took(CartEvent),
        _took(_counted),
        reading.folded(_counted),
        *grain.holds(_counted),
        ~exists().where(
            _earlier.cart_key == _counted.cart_key,
            _took(_earlier),
            _earlier.day < _counted.day,
            *grain.same_per(_earlier, _counted),
            reading.folded(_earlier),
        ),
    ).group_by(_counted.day, *grain.columns(_counted))


def _upsert(session: AsyncSession, figures: list[str], query: Select[Any]) -> ReturningInsert[date]:
    """Add ``query``'s ``figures`` to the rows it names, making the rows it does not find; the
    days of the rows."""
    statement: postgresql.Insert | sqlite.Insert
    if session.get_bind().dialect.name == "postgresql":
        statement = postgresql.insert(_daily)
    else:
        statement = sqlite.insert(_daily)
    statement = statement.from_select([*_KEY, *figures], query)
    return statement.on_conflict_do_update(
        index_elements=_KEY,
        set_={name: _daily.c[name] + statement.excluded[name] for name in figures},
    ).returning(_daily.c.day)


async def fold(session: AsyncSession, reading: Reading) -> set[date]:
    """Add the events ``reading`` finds new to the roll-ups; the days it changed."""
    if session.get_bind().dialect.name == "postgresql":
        # PostgreSQL prices these statements' thousands of index lookups like table scans and
        # would compile them to machine code first, which takes it longer than running them
        # (about a second against 30 ms a statement, measured with benchmarks/analytics_load.py).
        await session.execute(text("SET LOCAL jit = off"))
    else:
        # Without statistics SQLite looks the counted events up by day, which on a busy day is
        # every event of it, rather than by cart: 24 s a refresh after 3,000 new events on a day
        # of 20,000, against 0.1 s. A sampled ANALYZE (a few hundred rows an index) lets it choose.
        await session.execute(text("PRAGMA analysis_limit = 400"))
        await session.execute(text("ANALYZE cart_events"))
    last = await session.scalar(select(func.max(_daily.c.day)))
    days: set[date] = set()
    for grain in _GRAINS:
        days.update(await session.scalars(_upsert(session, FIGURE_COLUMNS, _gains(grain, reading))))
    if last is not None and days and min(days) < last:
        # A new event before the last day rolled up may move a cart's first day earlier; in the
        # steady state none is (only a late commit around midnight).
        for grain in _GRAINS:
            days.update(await session.scalars(_upsert(session, ["carts"], _losses(grain, reading))))
    return days
