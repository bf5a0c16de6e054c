"""Worker heartbeats: each worker says when it last ran, and when each of its jobs last finished,
so operators can see it is alive and doing its work."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from aimall_cart.db import Base

HEARTBEAT_INTERVAL = timedelta(seconds=10)
SILENT_AFTER_BEATS = 3  # a worker not heard from for this many beats counts as gone


class WorkerHeartbeat(Base):
    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]
    # Job name -> when this worker last finished it (RFC 3339); empty before its first tick.
    jobs: Mapped[dict[str, str] | None]


def silent_after(worker_tick_seconds: float) -> timedelta:
    """How long without a beat before a worker counts as gone: three beats, and a beat cannot
    come more often than the worker's tick."""
    beat = max(HEARTBEAT_INTERVAL, timedelta(seconds=worker_tick_seconds))
    return SILENT_AFTER_BEATS * beat


async def beat(
    session: AsyncSession,
    *,
    worker_id: str,
    started_at: datetime,
    now: datetime,
    jobs: dict[str, datetime] | None = None,
) -> None:
    finished = {name: at.isoformat() for name, at in (jobs or {}).items()}
    row = await session.get(WorkerHeartbeat, worker_id)
    if row is None:
        session.add(
            WorkerHeartbeat(worker_id=worker_id, started_at=started_at, beat_at=now, jobs=finished)
        )
    else:
        row.beat_at = now
        row.jobs = finished
