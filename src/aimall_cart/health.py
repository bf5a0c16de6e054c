"""Worker heartbeats: each worker says when it last ran, so operators can see it is alive."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from aimall_cart.db import Base


class WorkerHeartbeat(Base):
    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]


async def beat(
    session: AsyncSession, *, worker_id: str, started_at: datetime, now: datetime
) -> None:
    row = await session.get(WorkerHeartbeat, worker_id)
    if row is None:
        session.add(WorkerHeartbeat(worker_id=worker_id, started_at=started_at, beat_at=now))
    else:
        row.beat_at = now
