"""The background worker: one asyncio loop that runs each periodic job when it falls due.

``aimall-cart worker`` runs it on its own; ``aimall-cart serve`` also runs it inside the server
unless told not to. Every job is safe to run from several workers at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from aimall_cart import idempotency
from aimall_cart.clock import Clock
from aimall_cart.db import Database

log = logging.getLogger("aimall_cart.worker")


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    every: timedelta
    run: Callable[[Database, datetime], Awaitable[int]]


async def purge_idempotency_keys(database: Database, now: datetime) -> int:
    async with database.write_session() as session:
        purged = await idempotency.purge_expired(session, now=now)
        await session.commit()
    return purged


JOBS = (Job("purge-idempotency-keys", timedelta(minutes=10), purge_idempotency_keys),)


async def run_due(
    database: Database, clock: Clock, last_run: dict[str, datetime], jobs: tuple[Job, ...] = JOBS
) -> dict[str, int]:
    """Run the jobs whose time has come; a failing job is logged and tried again next time."""
    done: dict[str, int] = {}
    for job in jobs:
        now = clock.now()
        previous = last_run.get(job.name)
        if previous is not None and now - previous < job.every:
            continue
        try:
            done[job.name] = await job.run(database, now)
        except Exception:
            log.exception("worker job %s failed", job.name)
            continue
        last_run[job.name] = now
        if done[job.name]:
            log.info("worker job %s handled %d", job.name, done[job.name])
    return done


async def run_forever(
    database: Database, clock: Clock, *, stop: asyncio.Event, tick_seconds: float = 1.0
) -> None:
    last_run: dict[str, datetime] = {}
    while not stop.is_set():
        await run_due(database, clock, last_run)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=tick_seconds)
