"""Rolling the cart event log up by day, per product, per seller and for the platform.

In its steady state a refresh folds in only the events it has not read (``reading``), so it costs
what the new events cost, not what the day holds, and the figures stay those a recompute from
scratch gives (``folding``). The first refresh, and the first after migration 0010, recompute
recent days whole instead, from the earliest day with events not yet read and never later than the
day the previous refresh ran a few minutes before, as every refresh did before; once the log holds
an event old enough that nothing can still commit below it (or is young, its ids starting near
1), the refresh turns incremental. The state row is the lock: two workers refreshing at once take
turns. The caller commits.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.analytics import folding, reading
from aimall_cart.analytics.models import RollupGap, RollupState
from aimall_cart.analytics.reading import LATE_COMMIT_MARGIN, Reading
from aimall_cart.carts.models import CartEvent


async def refresh(session: AsyncSession, *, now: datetime) -> int:
    """Bring the roll-ups up to the events committed so far; answers how many days' figures it
    changed (or, recomputing, redid)."""
    state = await session.get(RollupState, 1, with_for_update=True)
    if state is None:
        state = RollupState(
            id=1, last_event_id=0, refreshed_at=now - LATE_COMMIT_MARGIN, incremental=False
        )
        session.add(state)
        await session.flush()
    newest = await session.scalar(select(func.max(CartEvent.id))) or 0
    if newest < state.last_event_id:
        # SQLite hands ids out again once the log's newest rows are purged: start over.
        state.last_event_id, state.incremental = 0, False
    if state.incremental:
        found = await reading.read(session, after=state.last_event_id)
        days = len(await folding.fold(session, found)) if found.finds_any else 0
        await _keep_gaps(session, found, now=now)
        state.last_event_id = found.through
    else:
        days = await _recompute_recent(session, state, newest=newest, now=now)
    state.refreshed_at = now
    await session.flush()
    return days


async def _recompute_recent(
    session: AsyncSession, state: RollupState, *, newest: int, now: datetime
) -> int:
    """Recompute whole the days an event not yet read may fall on; turn incremental if an id is
    known below which no event can still commit. Answers how many days it redid."""
    unread = await session.scalar(
        select(func.min(CartEvent.day)).where(CartEvent.id > state.last_event_id)
    )
    late = (state.refreshed_at - LATE_COMMIT_MARGIN).date()
    since: date = min(unread, late) if unread is not None else late
    await session.execute(delete(RollupGap))
    floor = await reading.floor(session, now=now)
    if floor is None:
        # Every event is recent: take them all; the next refresh recomputes these days again.
        await folding.recompute(session, since=since)
        state.last_event_id = newest
    else:
        found = await reading.read(session, after=floor)
        await folding.recompute(session, since=since, read=found.read)
        await _keep_gaps(session, found, now=now)
        state.last_event_id, state.incremental = found.through, True
    return (now.date() - since).days + 1


async def _keep_gaps(session: AsyncSession, found: Reading, *, now: datetime) -> None:
    """Forget the gaps now filled and those noticed more than a margin ago (rolled back); note
    the new ones."""
    await session.execute(
        delete(RollupGap).where(
            or_(
                RollupGap.event_id.in_(sorted(found.filled)),
                RollupGap.noticed_at < now - LATE_COMMIT_MARGIN,
            )
        )
    )
    if found.missing:
        await session.execute(
            insert(RollupGap),
            [{"event_id": event_id, "noticed_at": now} for event_id in sorted(found.missing)],
        )


async def purge(session: AsyncSession, *, before: date, limit: int) -> int:
    """Raw events of days before ``before`` (the roll-ups stay), the oldest ``limit`` of them, so
    a day's events leave over several runs rather than in one long statement; how many went."""
    oldest = select(CartEvent.id).where(CartEvent.day < before).order_by(CartEvent.id).limit(limit)
    ids = list(await session.scalars(oldest))
    if ids:
        await session.execute(delete(CartEvent).where(CartEvent.id.in_(ids)))
    return len(ids)
