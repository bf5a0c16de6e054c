"""The daily roll-ups, refreshed as the worker does, equal a recompute from scratch, and a
refresh reads only the events it has not folded in.

Events are written here with ids of the test's choosing, as the sequence would hand them out to
concurrent transactions: some commit a few minutes after events with higher ids were rolled up
(late commits), some never (rolled back, a gap for good).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Table, delete, event, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.util import await_only

from aimall_cart.analytics import folding, rollup
from aimall_cart.analytics.models import DailyFigures, RollupGap, RollupState
from aimall_cart.analytics.reading import LATE_COMMIT_MARGIN, YOUNG_LOG_FIRST_IDS
from aimall_cart.carts.models import EVENT_KINDS, CartEvent
from aimall_cart.db import Database

Row = dict[str, Any]
FIRST_DAY = date(2026, 11, 1)
START = datetime(2026, 11, 4, 12, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
NEVER = -1  # the chunks after its own in which an event commits: never, it rolled back
# (product, seller) of a line; a product may move to another seller, or have none.
LINES = [("p-0", "s-1"), ("p-1", "s-1"), ("p-1", "s-2"), ("p-2", "s-2"), ("p-3", None)]
_daily = cast(Table, DailyFigures.__table__)


@st.composite
def cart_events(draw: st.DrawFn) -> Row:
    kind = draw(st.sampled_from(EVENT_KINDS))
    product, seller = (None, None) if kind == "cart_created" else draw(st.sampled_from(LINES))
    quantity = draw(st.integers(-2, 3))
    reasons = [None, "price", "availability", "other"]
    return {
        "kind": kind,
        "cart_key": f"cart-{draw(st.integers(0, 3))}",
        "product_id": product,
        "seller_id": seller,
        "quantity_delta": quantity,
        "value": quantity * 250,
        "reason": draw(st.sampled_from(reasons)) if kind == "cart_abandoned" else None,
        "day": FIRST_DAY + timedelta(days=draw(st.integers(0, 3))),
    }


# Each chunk is what one minute's transactions write: events with when they commit.
chunks = st.lists(
    st.lists(st.tuples(cart_events(), st.sampled_from([0, 0, 0, 1, 2, 3, NEVER])), max_size=8),
    min_size=1,
    max_size=8,
)


async def _reset(database: Database) -> None:
    async with database.write_session() as session:
        for table in (CartEvent, DailyFigures, RollupState, RollupGap):
            await session.execute(delete(table))
        await session.commit()


async def _write(database: Database, rows: Sequence[Row]) -> None:
    if rows:
        async with database.write_session() as session:
            await session.execute(insert(CartEvent), list(rows))
            await session.commit()


async def _figures(session: AsyncSession) -> list[tuple[Any, ...]]:
    rows = await session.execute(select(_daily).order_by(*_daily.primary_key.columns))
    return [tuple(row) for row in rows]


async def _refresh(database: Database, now: datetime) -> int:
    async with database.write_session() as session:
        days = await rollup.refresh(session, now=now)
        await session.commit()
    return days


async def _refresh_and_compare(database: Database, now: datetime) -> None:
    await _refresh(database, now)
    async with database.write_session() as session:
        rolled_up = await _figures(session)
        await folding.recompute(session, since=date.min)
        assert rolled_up == await _figures(session)
        await session.rollback()


async def _gaps(database: Database) -> list[int]:
    async with database.read_session() as session:
        return list(await session.scalars(select(RollupGap.event_id)))


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=st.lists(cart_events(), min_size=1, max_size=10), chunks=chunks)
async def test_every_refresh_equals_a_recompute_from_scratch(
    database: Database, history: list[Row], chunks: list[list[tuple[Row, int]]]
) -> None:
    await _reset(database)
    ids = itertools.count(1)
    an_hour_ago = START - 60 * MINUTE
    await _write(database, [{**e, "id": next(ids), "occurred_at": an_hour_ago} for e in history])
    await _refresh_and_compare(database, START)
    due: dict[int, list[Row]] = defaultdict(list)
    now = START
    for minute, chunk in enumerate([*chunks, [], [], []]):  # three more minutes: all commit
        now += MINUTE
        for cart_event, delay in chunk:
            row = {**cart_event, "id": next(ids), "occurred_at": now - MINUTE / 2}
            if delay != NEVER:
                due[minute + delay].append(row)
        await _write(database, due.pop(minute, []))
        await _refresh_and_compare(database, now)
    await _refresh_and_compare(database, now + LATE_COMMIT_MARGIN + MINUTE)
    assert await _gaps(database) == []  # the rolled back ids are forgotten


def _take(cart_key: str, day: date, *, id: int, at: datetime, value: int = 500) -> Row:
    return {
        "id": id,
        "occurred_at": at,
        "day": day,
        "kind": "item_added",
        "cart_key": cart_key,
        "product_id": "p-0",
        "seller_id": "s-1",
        "quantity_delta": 1,
        "value": value,
    }


@asynccontextmanager
async def _statements(database: Database) -> AsyncIterator[list[str]]:
    """The SQL the database's engine sends meanwhile."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(args[2])

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)


async def test_a_refresh_reads_only_the_events_it_has_not_folded_in(database: Database) -> None:
    await _reset(database)
    earlier, later = FIRST_DAY, FIRST_DAY + timedelta(days=1)
    old = START - 60 * MINUTE
    await _write(database, [_take("a", earlier, id=1, at=old), _take("b", later, id=2, at=old)])
    await _refresh(database, START)
    async with database.write_session() as session:
        # Marks that a refresh reading them again would not leave: an earlier day's figures, and
        # an event of the later day, already folded in, that now says something else.
        await session.execute(update(_daily).where(_daily.c.day == earlier).values(units_added=99))
        await session.execute(update(CartEvent).where(CartEvent.id == 2).values(value=10**6))
        await session.commit()
    await _write(database, [_take("c", later, id=3, at=START, value=700)])
    async with _statements(database) as sent:
        assert await _refresh(database, START + MINUTE) == 1
    assert not [
        sql for sql in sent if sql.lstrip().upper().startswith("DELETE FROM ANALYTICS_DAILY")
    ]
    async with database.read_session() as session:
        figures = {
            (day, seller, product): (carts, units, value)
            for day, seller, product, carts, units, value in await session.execute(
                select(
                    _daily.c.day,
                    _daily.c.seller_id,
                    _daily.c.product_id,
                    _daily.c.carts,
                    _daily.c.units_added,
                    _daily.c.value_added,
                )
            )
        }
    assert figures == {
        (earlier, "", ""): (1, 99, 500),
        (earlier, "s-1", ""): (1, 99, 500),
        (earlier, "s-1", "p-0"): (1, 99, 500),
        (later, "", ""): (2, 2, 1200),
        (later, "s-1", ""): (2, 2, 1200),
        (later, "s-1", "p-0"): (2, 2, 1200),
    }


async def test_events_that_commit_while_a_refresh_runs_wait_for_the_next(
    database: Database,
) -> None:
    if database.engine.dialect.name == "sqlite":
        pytest.skip("SQLite writes one transaction at a time: none commits during a refresh")
    await _reset(database)
    day, old = START.date(), START - 60 * MINUTE
    await _write(database, [_take("a", day, id=1, at=old)])
    await _refresh(database, START)
    await _write(database, [_take("b", day, id=3, at=START)])  # 2 is still open
    racing = [_take("c", day, id=2, at=START), _take("d", day, id=4, at=START)]

    def commit_the_racing_events(*args: Any) -> None:
        if racing and args[2].startswith("INSERT INTO analytics_daily"):
            await_only(_write(database, [racing.pop(), racing.pop()]))

    event.listen(database.engine.sync_engine, "before_cursor_execute", commit_the_racing_events)
    try:
        await _refresh(database, START + MINUTE)
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", commit_the_racing_events)
    assert not racing
    async with database.read_session() as session:
        carts = select(_daily.c.carts).where(_daily.c.seller_id == "")
        assert await session.scalar(carts) == 2  # a and b: c and d came too late
    await _refresh_and_compare(database, START + 2 * MINUTE)


async def test_a_young_log_is_folded_in_from_its_first_refresh(database: Database) -> None:
    """A fresh log's ids start at 1, so nothing can commit below them: the first refresh turns
    incremental and keeps the ids still missing as gaps."""
    await _reset(database)
    day = START.date()
    await _write(database, [_take("a", day, id=1, at=START), _take("b", day, id=3, at=START)])
    await _refresh_and_compare(database, START)
    async with database.read_session() as session:
        assert await session.scalar(select(RollupState.incremental)) is True
    assert await _gaps(database) == [2]
    await _write(database, [_take("c", day, id=2, at=START)])  # committed after 3
    await _refresh_and_compare(database, START + MINUTE)
    assert await _gaps(database) == []
    async with database.read_session() as session:
        assert await session.scalar(select(func.sum(_daily.c.carts))) == 3 * 3


async def test_a_purged_log_of_recent_events_is_recomputed_until_one_is_old_enough(
    database: Database,
) -> None:
    """Where the purge took the older ids, every one of them would be a gap: the refresh
    recomputes until an event is old enough to stand below all that may still commit."""
    await _reset(database)
    day, first = START.date(), YOUNG_LOG_FIRST_IDS + 1
    await _write(database, [_take("a", day, id=first, at=START)])
    await _refresh_and_compare(database, START)
    await _write(database, [_take("b", day, id=first + 2, at=START + MINUTE)])
    await _refresh_and_compare(database, START + MINUTE)
    async with database.read_session() as session:
        assert await session.scalar(select(RollupState.incremental)) is False
    await _write(database, [_take("c", day, id=first + 1, at=START + MINUTE)])  # after b
    await _refresh_and_compare(database, START + 2 * LATE_COMMIT_MARGIN + MINUTE)
    async with database.read_session() as session:
        assert await session.scalar(select(RollupState.incremental)) is True
        assert await session.scalar(select(func.sum(_daily.c.carts))) == 3 * 3
