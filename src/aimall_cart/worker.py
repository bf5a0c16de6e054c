"""The background worker: one asyncio loop that runs each periodic job when it falls due.

``aimall-cart worker`` runs it on its own; ``aimall-cart serve`` also runs it inside the server
unless told not to. Every job is safe to run from several workers at once.

Each job is an entrypoint (house rule 1): it opens its own sessions and commits per batch, one
short transaction at a time, never one for the whole job, so a failure loses one batch at most
and no lock is held across a tick. Each job's docstring says how it batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart import delivery, events, health, idempotency, metrics
from aimall_cart.checkout import handoff as _order_handoff  # noqa: F401  registers order.*
from aimall_cart.checkout import service as checkout
from aimall_cart.clock import Clock
from aimall_cart.config import Settings
from aimall_cart.db import Database
from aimall_cart.inventory import service as inventory
from aimall_cart.privacy import retention
from aimall_cart.recovery import channels as _recovery_channels  # noqa: F401  registers recovery.*
from aimall_cart.recovery import inbox as recovery_inbox

if TYPE_CHECKING:
    from aimall_cart.recovery.engine import Engine

log = logging.getLogger("aimall_cart.worker")


@dataclass
class Context:
    """What the jobs share: the database, settings, one HTTP client, and who this worker is."""

    database: Database
    settings: Settings
    http: httpx.AsyncClient
    started_at: datetime
    worker_id: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    )
    recovery_engine: Engine | None = None  # built on the first recovery pass
    job_runs: dict[str, datetime] = field(default_factory=dict)  # job name -> last finished


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    every: timedelta
    run: Callable[[Context, datetime], Awaitable[int]]


async def heartbeat(context: Context, now: datetime) -> int:
    """This worker's heartbeat row, with when each job last finished, in one transaction it
    commits."""
    async with context.database.write_session() as session:
        await health.beat(
            session,
            worker_id=context.worker_id,
            started_at=context.started_at,
            now=now,
            jobs=context.job_runs,
        )
        await session.commit()
    return 0


async def deliver_events(context: Context, now: datetime) -> int:
    """Due outbox events; ``deliver_due`` commits each batch's claim, then each outcome, on its
    own, and sends with no transaction open."""
    return await delivery.deliver_due(context.database, context.settings, context.http, now=now)


async def expire_checkouts(context: Context, now: datetime, *, most: int = 200) -> int:
    """Expire lapsed checkouts, committing one transaction per checkout, then release other
    lapsed holds in one more (at most 500 of them)."""
    expired = 0
    while expired < most:
        async with context.database.write_session() as session:
            taken = await checkout.expire_lapsed(session, now=now)
            await session.commit()
        if not taken:
            break
        expired += taken
    async with context.database.write_session() as session:
        await inventory.release_expired(session, now=now, limit=500, skip_locked=True)
        await session.commit()
    metrics.CHECKOUTS.labels("expired").inc(expired)
    return expired


async def purge_idempotency_keys(context: Context, now: datetime) -> int:
    """Expired Idempotency-Key records, deleted in one transaction it commits."""
    async with context.database.write_session() as session:
        purged = await idempotency.purge_expired(session, now=now)
        await session.commit()
    return purged


async def recover_carts(context: Context, now: datetime) -> int:
    """One abandoned-cart recovery pass; the model libraries load here, on first use. The pass
    commits per batch: settling, each batch of cases opened, each batch of cases acted on."""
    from aimall_cart.recovery import service as recovery
    from aimall_cart.recovery.engine import Engine

    if context.recovery_engine is None:
        context.recovery_engine = Engine.create()
    result = await recovery.run_pass(
        context.database, context.settings, context.recovery_engine, now=now
    )
    return result.sent


async def refresh_analytics(context: Context, now: datetime) -> int:
    """Abandoned carts, the daily roll-ups and the raw-event purge; the job commits each batch
    of abandoned carts, then the roll-up and purge together."""
    from aimall_cart.analytics import refresh

    done = await refresh.run(context.database, context.settings, now=now)
    return done.abandoned


RETENTION_BATCHES_PER_RUN = 20  # a run stays short; what is left goes in the next one


async def _purged(context: Context, purge: Callable[[AsyncSession, int], Awaitable[int]]) -> int:
    """Up to ``RETENTION_BATCHES_PER_RUN`` batches of one purge, each committed on its own."""
    batch, purged = context.settings.retention_batch_size, 0
    for _ in range(RETENTION_BATCHES_PER_RUN):
        async with context.database.write_session() as session:
            went = await purge(session, batch)
            await session.commit()
        purged += went
        if went < batch:
            break
    return purged


async def purge_expired_data(context: Context, now: datetime) -> int:
    """Retention: idle guest carts, old archives, old messages and the settled outbox events
    that carried them, in bounded batches, each committed on its own; logs what went. (Raw cart
    events are purged by the analytics refresh, once rolled up.)"""
    settings = context.settings
    guests = now - timedelta(days=settings.guest_retention_days)
    archives = now - timedelta(days=settings.archive_retention_days)
    messages = now - timedelta(days=settings.message_retention_days)
    purged = {
        "guest_carts": await _purged(
            context, lambda s, n: retention.purge_guest_carts(s, idle_before=guests, limit=n)
        ),
        "archived_carts": await _purged(
            context, lambda s, n: retention.purge_archives(s, archived_before=archives, limit=n)
        ),
        "messages": await _purged(
            context, lambda s, n: recovery_inbox.purge_sent(s, sent_before=messages, limit=n)
        ),
        "outbox_events": await _purged(
            context, lambda s, n: events.purge_settled(s, created_before=messages, limit=n)
        ),
    }
    if any(purged.values()):
        log.info("retention purged %s", " ".join(f"{k}={v}" for k, v in purged.items()))
    return sum(purged.values())


JOBS = (
    Job("heartbeat", health.HEARTBEAT_INTERVAL, heartbeat),
    Job("deliver-events", timedelta(seconds=1), deliver_events),
    Job("expire-checkouts", timedelta(seconds=5), expire_checkouts),
    Job("purge-idempotency-keys", timedelta(minutes=10), purge_idempotency_keys),
    Job("purge-expired-data", timedelta(minutes=10), purge_expired_data),
)


async def run_due(
    context: Context, clock: Clock, last_run: dict[str, datetime], jobs: tuple[Job, ...] = JOBS
) -> dict[str, int]:
    """Run the jobs whose time has come; a failing job is logged and tried again next tick."""
    done: dict[str, int] = {}
    for job in jobs:
        now = await clock.now()
        previous = last_run.get(job.name)
        if previous is not None and now - previous < job.every:
            continue
        try:
            done[job.name] = await job.run(context, now)
        except Exception:
            log.exception("worker job %s failed", job.name)
            continue
        last_run[job.name] = now
        if done[job.name]:
            log.info("worker job %s handled %d", job.name, done[job.name])
    return done


def jobs(settings: Settings) -> tuple[Job, ...]:
    """The standing jobs, and the recovery pass at the configured interval."""
    every = timedelta(seconds=settings.recovery_interval_seconds)
    # Half the lag, so that a figure is never more than the lag behind its events.
    analytics_every = timedelta(seconds=settings.analytics_lag_seconds / 2)
    return (
        *JOBS,
        Job("recover-carts", every, recover_carts),
        Job("refresh-analytics", analytics_every, refresh_analytics),
    )


async def run_forever(
    database: Database, settings: Settings, clock: Clock, *, stop: asyncio.Event
) -> None:
    scheduled = jobs(settings)
    async with httpx.AsyncClient() as http:
        context = Context(database, settings, http, started_at=await clock.now())
        while not stop.is_set():
            await run_due(context, clock, context.job_runs, scheduled)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=settings.worker_tick_seconds)
