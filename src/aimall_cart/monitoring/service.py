"""The health report, measured: a timed round trip to the database, the workers' heartbeats, the
outbox, open stock reservations, the recovery pass and the conflicts answered lately.

Reads only; nothing here writes or commits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import case, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart import conflicts, migrate
from aimall_cart.config import Settings
from aimall_cart.db import Database
from aimall_cart.events import OutboxEvent
from aimall_cart.health import WorkerHeartbeat, silent_after
from aimall_cart.inventory.models import Reservation
from aimall_cart.monitoring import rules
from aimall_cart.monitoring.schemas import (
    DatabaseHealth,
    HealthOut,
    OutboxHealth,
    RecoveryHealth,
    ReservationHealth,
    WorkerHealth,
)
from aimall_cart.recovery import policy as recovery_policy

log = logging.getLogger("aimall_cart.monitoring")

RECOVERY_JOB = "recover-carts"  # the worker's job name for the recovery pass
# Heartbeats of workers long gone stay in the table; the report lists the recent ones.
WORKERS_LISTED_FOR = timedelta(hours=1)


def as_datetime(value: datetime | str | None) -> datetime | None:
    if isinstance(value, str):  # SQLite hands an aggregate of a date column back as text
        return datetime.fromisoformat(value)
    return value


async def _database(database: Database) -> DatabaseHealth:
    async with database.engine.connect() as connection:
        started = time.perf_counter()
        await connection.execute(text("SELECT 1"))
        latency_ms = (time.perf_counter() - started) * 1000
        revision = await connection.run_sync(migrate.current_revision)
    return DatabaseHealth(
        ok=True,
        latency_ms=round(latency_ms, 3),
        revision=revision,
        schema_current=revision == migrate.head_revision(),
    )


async def _workers(session: AsyncSession, now: datetime) -> list[WorkerHealth]:
    rows = await session.scalars(
        select(WorkerHeartbeat)
        .where(WorkerHeartbeat.beat_at >= now - WORKERS_LISTED_FOR)
        .order_by(WorkerHeartbeat.beat_at.desc())
    )
    return [
        WorkerHealth(
            id=row.worker_id,
            started_at=row.started_at,
            last_seen=row.beat_at,
            age_seconds=round(max((now - row.beat_at).total_seconds(), 0.0), 3),
            jobs={name: datetime.fromisoformat(at) for name, at in (row.jobs or {}).items()},
        )
        for row in rows
    ]


async def outbox_figures(session: AsyncSession, now: datetime) -> OutboxHealth:
    pending = OutboxEvent.status == "pending"
    row = (
        await session.execute(
            select(
                func.sum(case((pending, 1), else_=0)),
                func.sum(case((OutboxEvent.status == "dead", 1), else_=0)),
                func.min(case((pending, OutboxEvent.created_at), else_=None)),
            ).where(OutboxEvent.status.in_(("pending", "dead")))
        )
    ).one()
    oldest = as_datetime(row[2])
    return OutboxHealth(
        pending=int(row[0] or 0),
        dead=int(row[1] or 0),
        oldest_pending_age_seconds=(
            round((now - oldest).total_seconds(), 3) if oldest is not None else None
        ),
    )


async def _reservations(session: AsyncSession, now: datetime) -> ReservationHealth:
    """Held and not yet lapsed: availability already treats a lapsed hold as released."""
    row = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(Reservation.quantity), 0)).where(
                Reservation.status == "held", Reservation.expires_at > now
            )
        )
    ).one()
    return ReservationHealth(open=int(row[0]), units=int(row[1]))


async def _recovery(session: AsyncSession, workers: list[WorkerHealth]) -> RecoveryHealth:
    policy, _ = await recovery_policy.current(session)
    passes = [worker.jobs[RECOVERY_JOB] for worker in workers if RECOVERY_JOB in worker.jobs]
    return RecoveryHealth(enabled=policy.enabled, last_pass_at=max(passes, default=None))


async def report(database: Database, settings: Settings, *, now: datetime) -> HealthOut:
    """Measure everything; a database that does not answer in time makes the report ``failing``
    with the parts that need it left empty."""
    recent = conflicts.recent.last_window()
    try:
        async with asyncio.timeout(settings.health_database_timeout_seconds):
            db = await _database(database)
            async with database.read_session() as session:
                workers = await _workers(session, now)
                outbox = await outbox_figures(session, now)
                reservations = await _reservations(session, now)
                recovery = await _recovery(session, workers)
    except (DBAPIError, PoolTimeout, OSError, TimeoutError) as exc:
        log.warning("health: the database did not answer: %s", exc)
        failing = DatabaseHealth(ok=False, latency_ms=None, revision=None, schema_current=False)
        return HealthOut(
            status="failing",
            checked_at=now,
            database=failing,
            workers=[],
            outbox=None,
            reservations=None,
            recovery=None,
            conflicts_last_5_min=recent,
        )
    found = rules.Findings(
        database_ok=True,
        schema_current=db.schema_current,
        freshest_worker_age_seconds=min((w.age_seconds for w in workers), default=None),
        silent_after_seconds=silent_after(settings.worker_tick_seconds).total_seconds(),
        dead_events=outbox.dead,
    )
    return HealthOut(
        status=rules.overall_status(found),
        checked_at=now,
        database=db,
        workers=workers,
        outbox=outbox,
        reservations=reservations,
        recovery=recovery,
        conflicts_last_5_min=recent,
    )
