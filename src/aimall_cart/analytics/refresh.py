"""The analytics job: find newly abandoned carts, roll the event log up, purge old raw events.

The worker runs it every half ``analytics_lag_seconds``, so figures trail the events by less than
the lag; ``POST /v1/admin/analytics/refresh`` runs it at once. A background job's use case, so it
commits itself: each batch of abandoned carts, then the roll-up and the purge together.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from aimall_cart.analytics import abandonment, rollup
from aimall_cart.config import Settings
from aimall_cart.db import Database
from aimall_cart.recovery import policy as recovery_policy

ABANDONED_BATCH = 500
log = logging.getLogger("aimall_cart.retention")


@dataclass(frozen=True, slots=True)
class Refreshed:
    abandoned: int
    days: int
    purged: int


async def run(database: Database, settings: Settings, *, now: datetime) -> Refreshed:
    async with database.read_session() as session:
        policy, _ = await recovery_policy.current(session)
    idle_since = now - timedelta(minutes=policy.inactivity_minutes)
    abandoned = 0
    while True:
        async with database.write_session() as session:
            found = await abandonment.mark_batch(
                session, idle_since=idle_since, batch=ABANDONED_BATCH, now=now
            )
            await session.commit()
        abandoned += found
        if found < ABANDONED_BATCH:
            break
    async with database.write_session() as session:
        days = await rollup.refresh(session, now=now)
        kept_from = (now - timedelta(days=settings.event_retention_days)).date()
        purged = await rollup.purge(session, before=kept_from, limit=settings.retention_batch_size)
        await session.commit()
    if purged:
        log.info("retention purged cart_events=%d (days before %s)", purged, kept_from)
    return Refreshed(abandoned=abandoned, days=days, purged=purged)
