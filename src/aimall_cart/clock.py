"""The one source of the current time; entrypoints read it and pass ``now`` down.

With ``AIMALL_CART_TEST_CLOCK`` the clock runs ahead of the system clock by an offset kept in the
database, so the API and every worker process agree on what time it is. Without it the offset is
never read.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Mapped, mapped_column

from aimall_cart.db import Base, Database


class ClockOffset(Base):
    __tablename__ = "clock_offset"

    id: Mapped[int] = mapped_column(primary_key=True)
    seconds: Mapped[float]


class Clock:
    def __init__(self, database: Database | None = None) -> None:
        self._database = database  # set only when the test clock is on

    @property
    def adjustable(self) -> bool:
        return self._database is not None

    async def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=await self.offset_seconds())

    async def offset_seconds(self) -> float:
        if self._database is None:
            return 0.0
        async with self._database.read_session() as session:
            return float(await session.scalar(select(ClockOffset.seconds)) or 0.0)

    async def advance(self, seconds: float) -> datetime:
        """Move the clock forward for every process sharing the database."""
        if self._database is None:
            raise RuntimeError("the test clock is off")
        async with self._database.write_session() as session:
            offset = await session.get(ClockOffset, 1, with_for_update=True)
            if offset is None:
                session.add(ClockOffset(id=1, seconds=seconds))
            else:
                offset.seconds += seconds
            await session.commit()
        return await self.now()


async def request_now(request: Request) -> datetime:
    """The service's time for the request (the clock's offset applied)."""
    clock: Clock = request.app.state.clock
    return await clock.now()


Now = Annotated[datetime, Depends(request_now)]
