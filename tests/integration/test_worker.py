"""The background worker runs its jobs when they fall due and survives a failing one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select

from aimall_cart import idempotency, worker
from aimall_cart.clock import Clock
from aimall_cart.config import Settings
from aimall_cart.db import Database


class FixedClock(Clock):
    def __init__(self, now: datetime) -> None:
        super().__init__()
        self.at = now

    async def now(self) -> datetime:
        return self.at


def _context(database: Database) -> worker.Context:
    settings = Settings(database_url=database.url, env="test", _env_file=None)  # type: ignore[call-arg]
    return worker.Context(database, settings, httpx.AsyncClient(), started_at=datetime.now(UTC))


PURGE = tuple(job for job in worker.JOBS if job.name == "purge-idempotency-keys")


async def _claim(database: Database, key: str, now: datetime) -> None:
    async with database.write_session() as session:
        await idempotency.claim(
            session,
            caller="anonymous",
            key=key,
            fingerprint="f" * 64,
            now=now,
            ttl=timedelta(hours=24),
            lock=timedelta(seconds=60),
        )
        await session.commit()


async def _keys(database: Database) -> int:
    async with database.read_session() as session:
        return int(
            await session.scalar(select(func.count()).select_from(idempotency.IdempotencyRecord))
            or 0
        )


async def test_worker_purges_expired_idempotency_keys_when_the_job_falls_due(
    database_url: str,
) -> None:
    database = Database(database_url)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        await _claim(database, "old", start)
        await _claim(database, "new", start + timedelta(hours=20))
        clock, last_run = FixedClock(start + timedelta(hours=25)), {}
        context = _context(database)
        assert await worker.run_due(context, clock, last_run, PURGE) == {
            "purge-idempotency-keys": 1
        }
        assert await _keys(database) == 1
        clock.at += timedelta(minutes=1)  # not due again yet
        assert await worker.run_due(context, clock, last_run, PURGE) == {}
        clock.at += timedelta(hours=20)
        assert await worker.run_due(context, clock, last_run, PURGE) == {
            "purge-idempotency-keys": 1
        }
        assert await _keys(database) == 0
    finally:
        await database.dispose()


async def test_a_failing_job_is_retried_on_the_next_tick(database_url: str) -> None:
    calls: list[datetime] = []

    async def flaky(_: worker.Context, now: datetime) -> int:
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("first run fails")
        return 1

    database = Database(database_url)
    jobs = (worker.Job("flaky", timedelta(hours=1), flaky),)
    clock, last_run = FixedClock(datetime(2026, 1, 1, tzinfo=UTC)), {}
    try:
        context = _context(database)
        assert await worker.run_due(context, clock, last_run, jobs) == {}
        assert await worker.run_due(context, clock, last_run, jobs) == {"flaky": 1}
        assert len(calls) == 2
    finally:
        await database.dispose()
