"""A worker process killed while an event is on the wire: the event is sent again, not lost."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from aimall_cart import worker
from aimall_cart.config import Settings
from aimall_cart.db import Database
from aimall_cart.events import OutboxEvent, emit
from tests.receiver import Receiver

LEASE_SECONDS = 30


async def test_an_event_in_flight_when_the_worker_is_killed_is_delivered_again(
    database_url: str, settings: Settings
) -> None:
    receiver = Receiver()
    await receiver.start()
    receiver.hang_next = 1  # the first delivery reaches the receiver and waits for an answer
    database = Database(database_url)
    async with database.write_session() as session:
        payload = {"id": "order-1"}
        now = datetime.now(UTC)
        event = emit(session, "order.placed", payload, keys=settings.keys, person=None, now=now)
        await session.commit()
    env = {
        **os.environ,
        "AIMALL_CART_DATABASE_URL": database_url,
        "AIMALL_CART_ENV": "test",
        "AIMALL_CART_ORDER_WEBHOOK_URL": receiver.url,
        "AIMALL_CART_WEBHOOK_TIMEOUT_SECONDS": "30",
        "AIMALL_CART_OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
        "AIMALL_CART_WORKER_TICK_SECONDS": "0.1",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aimall_cart",
        "worker",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await asyncio.wait_for(receiver.arrived.wait(), timeout=30)
        os.kill(process.pid, signal.SIGKILL)
        await asyncio.wait_for(process.wait(), timeout=10)
        async with database.read_session() as session:
            row = await session.scalar(select(OutboxEvent).where(OutboxEvent.id == event.id))
        assert row is not None
        assert (row.status, row.attempts) == ("pending", 1)  # sent, never recorded

        again = settings.model_copy(
            update={"order_webhook_url": receiver.url, "outbox_lease_seconds": LEASE_SECONDS}
        )
        async with httpx.AsyncClient() as http:
            within_lease = datetime.now(UTC)
            other = worker.Context(database, again, http, started_at=within_lease)
            assert await worker.deliver_events(other, within_lease) == 0
            after_lease = within_lease + timedelta(seconds=LEASE_SECONDS + 1)
            assert await worker.deliver_events(other, after_lease) == 1
        assert receiver.ids() == [str(event.id), str(event.id)]
        assert receiver.requests[0].body == receiver.requests[1].body
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await receiver.stop()
        await database.dispose()
