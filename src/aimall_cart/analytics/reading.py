"""Which events of the cart log one refresh of the roll-ups reads, named by id.

Event ids come from a sequence, so a transaction can commit an event with a lower id after a
refresh has read higher ones, and one that rolls back leaves a hole for good. So beside its
watermark (the newest id it read) a refresh keeps the ids at or below it that were missing
(``RollupGap``), and the next one reads what lies above the watermark and what has filled a gap.
Every statement of a refresh names the same events (one that commits while it runs waits for
the next refresh), so each event is rolled up exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    Table,
    and_,
    bindparam,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.analytics.models import RollupGap
from aimall_cart.carts.models import CartEvent

# Longer than any transaction that writes events lasts (the longest, a recovery batch, takes
# seconds): no event commits later than this after it was stamped.
LATE_COMMIT_MARGIN = timedelta(minutes=5)

# A log whose oldest event has an id at most this has lost none to the purge worth keeping as
# gaps (a fresh database: the roll-ups turn incremental on its first refresh).
YOUNG_LOG_FIRST_IDS = 10_000

_gaps = cast(Table, RollupGap.__table__)


@dataclass(frozen=True, slots=True)
class Reading:
    """Earlier refreshes read the events up to ``after`` but the ``gaps``; this one reads those
    in (``after``, ``through``] but the ``missing`` ones, and the gaps ``filled`` since.

    The predicates take ``CartEvent`` or an alias of it, and name ids inline, so that a long list
    of gaps costs no bound parameters.
    """

    after: int
    through: int
    missing: frozenset[int] = frozenset()
    gaps: frozenset[int] = frozenset()
    filled: frozenset[int] = frozenset()

    @property
    def finds_any(self) -> bool:
        return self.through > self.after or bool(self.filled)

    def folded(self, event: Any) -> ColumnElement[bool]:
        """Read by an earlier refresh."""
        below = [event.id <= self.after]
        if self.gaps:
            below.append(event.id.not_in(_inline(self.gaps)))
        return and_(*below)

    def new(self, event: Any) -> ColumnElement[bool]:
        """Read by this refresh."""
        above = and_(event.id > self.after, event.id <= self.through)
        if self.missing:
            above = and_(above, event.id.not_in(_inline(self.missing)))
        return or_(above, event.id.in_(_inline(self.filled))) if self.filled else above

    def read(self, event: Any) -> ColumnElement[bool]:
        """Read by this refresh or an earlier one."""
        return or_(self.folded(event), self.new(event))


async def read(session: AsyncSession, *, after: int) -> Reading:
    """The events above ``after``, and those that filled a gap since it was noticed."""
    gaps = frozenset(await session.scalars(select(_gaps.c.event_id)))
    filled = await session.scalars(select(CartEvent.id).where(CartEvent.id.in_(_inline(gaps))))
    through, missing = await _above(session, after)
    return Reading(after, through, missing, gaps, frozenset(filled))


def _inline(ids: frozenset[int]) -> BindParameter[list[int]]:
    return bindparam(None, sorted(ids), expanding=True, literal_execute=True)


async def _above(session: AsyncSession, after: int) -> tuple[int, frozenset[int]]:
    """The newest id above ``after`` and the ids missing up to it, from one statement, so both
    describe the same moment."""
    ids = (
        select(
            CartEvent.id,
            func.lag(CartEvent.id, 1, literal(after, BigInteger))
            .over(order_by=CartEvent.id)
            .label("previous"),
            func.max(CartEvent.id).over().label("newest"),
        )
        .where(CartEvent.id > after)
        .subquery()
    )
    rows = await session.execute(
        select(ids.c.previous, ids.c.id, ids.c.newest).where(
            or_(ids.c.id - ids.c.previous > 1, ids.c.id == ids.c.newest)
        )
    )
    through, missing = after, set[int]()
    for previous, found, newest in rows:
        through = int(newest)
        missing.update(range(int(previous) + 1, int(found)))
    return through, frozenset(missing)


async def floor(session: AsyncSession, *, now: datetime) -> int | None:
    """An id below which no event can still commit: the newest of those stamped more than two
    margins ago (it committed more than a margin ago, before any event still to come was
    stamped, let alone took its id). When every event is more recent, 0 for a young log (its
    ids start near 1, so the few missing below its newest can be kept as gaps); None for a log
    whose older events were purged, where every purged id would count as missing."""
    found = await session.scalar(
        select(CartEvent.id)
        .where(CartEvent.occurred_at < now - 2 * LATE_COMMIT_MARGIN)
        .order_by(CartEvent.id.desc())
        .limit(1)
    )
    if found is not None:
        return int(found)
    oldest = await session.scalar(select(func.min(CartEvent.id)))
    return 0 if oldest is not None and oldest <= YOUNG_LOG_FIRST_IDS else None
