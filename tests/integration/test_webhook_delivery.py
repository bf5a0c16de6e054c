"""The order webhook: signed, retried with exponential backoff, dead-lettered, never lost.

Every test posts to a real HTTP/1.1 receiver listening on loopback (the webhook receiver is a
process edge, so it is the one thing faked) and drives ``deliver_due`` with ``now`` stepped
explicitly over the backoff and the lease.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from aimall_cart import delivery, worker
from aimall_cart.clock import Clock
from aimall_cart.config import DEV_DATA_KEYS, Settings
from aimall_cart.crypto import key_ring
from aimall_cart.db import Database
from aimall_cart.events import OutboxEvent, emit
from aimall_cart.health import WorkerHeartbeat
from tests.receiver import HANG_LIMIT_SECONDS, Receiver

SECRET = "test-webhook-secret-0123456789abcdef0123456789"
BASE = 10.0  # webhook_backoff_base_seconds
LEASE = 60  # outbox_lease_seconds
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class FixedClock(Clock):
    def __init__(self, now: datetime) -> None:
        super().__init__()
        self.at = now

    async def now(self) -> datetime:
        return self.at


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
def webhook(settings: Settings, receiver: Receiver) -> Settings:
    """The test settings pointed at the receiver, with round numbers for backoff and lease."""
    return settings.model_copy(
        update={
            "order_webhook_url": receiver.url,
            "order_webhook_secret": SECRET,
            "webhook_timeout_seconds": 2.0,
            "webhook_max_attempts": 8,
            "webhook_backoff_base_seconds": BASE,
            "outbox_lease_seconds": LEASE,
        }
    )


def _order(number: int = 1) -> dict[str, Any]:
    return {
        "order_id": f"order-{number}",
        "cart_id": f"cart-{number}",
        "total": 3998,
        "currency": "USD",
    }


async def _emit(database: Database, payload: dict[str, Any], *, now: datetime) -> uuid.UUID:
    async with database.write_session() as session:
        event = emit(
            session, "order.placed", payload, keys=key_ring(DEV_DATA_KEYS), person=None, now=now
        )
        await session.commit()
    return event.id


async def _row(database: Database, event_id: uuid.UUID) -> OutboxEvent:
    async with database.read_session() as session:
        row = await session.get(OutboxEvent, event_id)
    assert row is not None
    return row


def _expected_signature(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


async def test_the_receiver_gets_the_event_as_signed_json_and_the_row_ends_delivered(
    database: Database, webhook: Settings, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    created = T0.replace(microsecond=123456)
    event_id = await _emit(database, _order(), now=created)

    assert await delivery.deliver_due(database, webhook, http, now=T0 + timedelta(seconds=1)) == 1

    [request] = receiver.requests
    assert request.method == "POST"
    assert request.path == "/hooks/orders"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-event-id"] == str(event_id)
    assert request.headers["x-event-type"] == "order.placed"
    assert request.headers["x-signature"] == _expected_signature(request.body)
    body = json.loads(request.body)
    assert set(body) == {"id", "type", "created_at", "data"}
    assert body["id"] == str(event_id)
    assert body["type"] == "order.placed"
    assert body["data"] == _order()
    assert body["created_at"].endswith("Z")
    assert datetime.fromisoformat(body["created_at"].replace("Z", "+00:00")) == created
    row = await _row(database, event_id)
    assert row.status == "delivered"
    assert row.delivered_at == T0 + timedelta(seconds=1)
    assert row.attempts == 1
    assert row.last_error is None


async def test_the_signature_is_made_with_the_configured_secret_over_the_raw_body(
    database: Database, webhook: Settings, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    other = webhook.model_copy(update={"order_webhook_secret": "a-different-secret-entirely-0123"})
    await _emit(database, _order(), now=T0)

    await delivery.deliver_due(database, other, http, now=T0)

    [request] = receiver.requests
    assert request.headers["x-signature"] != _expected_signature(request.body)
    mac = hmac.new(b"a-different-secret-entirely-0123", request.body, hashlib.sha256)
    assert request.headers["x-signature"] == "sha256=" + mac.hexdigest()


async def test_a_failed_attempt_is_retried_after_the_backoff_with_the_same_signed_body(
    database: Database, webhook: Settings, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    event_id = await _emit(database, _order(), now=T0)
    receiver.fail_next = 1

    assert await delivery.deliver_due(database, webhook, http, now=T0) == 0

    row = await _row(database, event_id)
    assert row.status == "pending"
    assert row.attempts == 1
    assert row.last_error is not None
    assert "500" in row.last_error
    assert row.next_attempt_at == T0 + timedelta(seconds=BASE)
    assert row.delivered_at is None

    early = T0 + timedelta(seconds=BASE) - timedelta(milliseconds=1)
    assert await delivery.deliver_due(database, webhook, http, now=early) == 0
    assert len(receiver.requests) == 1

    due = T0 + timedelta(seconds=BASE)
    assert await delivery.deliver_due(database, webhook, http, now=due) == 1
    first, second = receiver.requests
    assert second.body == first.body
    assert second.headers["x-signature"] == first.headers["x-signature"]
    assert second.headers["x-signature"] == _expected_signature(second.body)
    assert second.headers["x-event-id"] == first.headers["x-event-id"] == str(event_id)
    row = await _row(database, event_id)
    assert row.status == "delivered"
    assert row.attempts == 2
    assert row.delivered_at == due
    assert row.last_error is None


async def test_the_wait_doubles_after_each_failure_and_the_event_dies_after_max_attempts(
    database: Database, webhook: Settings, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    three = webhook.model_copy(update={"webhook_max_attempts": 3})
    event_id = await _emit(database, _order(), now=T0)
    receiver.fail_next = 1_000

    assert await delivery.deliver_due(database, three, http, now=T0) == 0
    second_due = T0 + timedelta(seconds=BASE)
    assert (await _row(database, event_id)).next_attempt_at == second_due

    assert await delivery.deliver_due(database, three, http, now=second_due) == 0
    third_due = second_due + timedelta(seconds=2 * BASE)
    row = await _row(database, event_id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 2, third_due)

    before = third_due - timedelta(seconds=1)
    assert await delivery.deliver_due(database, three, http, now=before) == 0
    assert len(receiver.requests) == 2

    assert await delivery.deliver_due(database, three, http, now=third_due) == 0
    row = await _row(database, event_id)
    assert row.status == "dead"
    assert row.attempts == 3
    assert row.last_error is not None
    assert "500" in row.last_error
    assert row.delivered_at is None

    receiver.fail_next = 0
    for later in (third_due + timedelta(seconds=4 * BASE), third_due + timedelta(days=30)):
        assert await delivery.deliver_due(database, three, http, now=later) == 0
    assert receiver.ids() == [str(event_id)] * 3
    assert (await _row(database, event_id)).status == "dead"


async def test_an_event_sent_by_a_worker_that_died_before_recording_it_is_resent_after_the_lease(
    database: Database, webhook: Settings, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    event_id = await _emit(database, _order(), now=T0)

    # A worker killed between sending and recording leaves exactly the state of running the
    # first two steps of deliver_due without the third; killing a real process mid-call has no
    # deterministic seam, so this calls the private steps directly (no patching).
    lease = timedelta(seconds=LEASE)
    [claimed] = await delivery._claim(database, webhook.keys, now=T0, lease=lease, batch=50)
    assert await delivery._send(webhook, http, claimed) is None
    assert receiver.ids() == [str(event_id)]
    row = await _row(database, event_id)
    assert (row.status, row.attempts) == ("pending", 1)

    within_lease = T0 + timedelta(seconds=LEASE) - timedelta(seconds=1)
    assert await delivery.deliver_due(database, webhook, http, now=within_lease) == 0
    assert len(receiver.requests) == 1

    lease_over = T0 + timedelta(seconds=LEASE)
    assert await delivery.deliver_due(database, webhook, http, now=lease_over) == 1
    first, second = receiver.requests
    assert first.headers["x-event-id"] == second.headers["x-event-id"] == str(event_id)
    assert second.body == first.body
    row = await _row(database, event_id)
    assert row.status == "delivered"
    assert row.delivered_at == lease_over
    assert row.attempts == 2


async def test_two_workers_at_once_deliver_each_event_exactly_once(
    database_url: str, webhook: Settings, receiver: Receiver
) -> None:
    workers = [Database(database_url), Database(database_url)]
    clients = [httpx.AsyncClient(), httpx.AsyncClient()]
    try:
        emitted = {
            str(await _emit(workers[0], _order(n), now=T0 + timedelta(milliseconds=n)))
            for n in range(20)
        }
        for database in workers:  # connect up front so both claims start together
            async with database.read_session() as session:
                await session.execute(text("SELECT 1"))
        now = T0 + timedelta(seconds=1)

        counts = await asyncio.gather(
            *(
                delivery.deliver_due(database, webhook, http, now=now)
                for database, http in zip(workers, clients, strict=True)
            )
        )

        assert sum(counts) == 20
        assert sorted(receiver.ids()) == sorted(emitted)
        for database in workers:  # nothing is left for either worker within the lease
            assert await delivery.deliver_due(database, webhook, clients[0], now=now) == 0
        assert len(receiver.requests) == 20
        async with workers[0].read_session() as session:
            rows = list(await session.scalars(select(OutboxEvent)))
        assert len(rows) == 20
        assert {(row.status, row.attempts) for row in rows} == {("delivered", 1)}
    finally:
        for http in clients:
            await http.aclose()
        for database in workers:
            await database.dispose()


async def test_a_receiver_that_answers_slower_than_the_timeout_counts_as_a_failure_and_is_retried(
    database: Database, webhook: Settings, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    quick = webhook.model_copy(update={"webhook_timeout_seconds": 0.2})
    event_id = await _emit(database, _order(), now=T0)
    receiver.hang_next = 1

    started = time.monotonic()
    assert await delivery.deliver_due(database, quick, http, now=T0) == 0
    assert time.monotonic() - started < HANG_LIMIT_SECONDS / 2  # gave up, did not wait it out

    row = await _row(database, event_id)
    assert row.status == "pending"
    assert row.attempts == 1
    assert row.last_error is not None
    assert "Timeout" in row.last_error
    assert row.next_attempt_at == T0 + timedelta(seconds=BASE)

    due = T0 + timedelta(seconds=BASE)
    assert await delivery.deliver_due(database, quick, http, now=due) == 1
    assert receiver.ids() == [str(event_id)] * 2
    row = await _row(database, event_id)
    assert (row.status, row.attempts, row.delivered_at) == ("delivered", 2, due)


async def test_without_a_webhook_url_the_event_is_logged_by_id_alone_and_marked_delivered(
    database: Database,
    settings: Settings,
    http: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    log_only = settings.model_copy(update={"order_webhook_url": None})
    event_id = await _emit(database, _order(7), now=T0)

    with caplog.at_level(logging.INFO, logger="aimall_cart.events"):
        assert await delivery.deliver_due(database, log_only, http, now=T0) == 1

    lines = [
        record.getMessage() for record in caplog.records if record.name == "aimall_cart.events"
    ]
    assert any(str(event_id) in line for line in lines), lines
    assert not any("order-7" in line for line in lines), "the log carries the payload"
    row = await _row(database, event_id)
    assert row.status == "delivered"
    assert row.delivered_at == T0


async def test_the_worker_delivers_pending_events_and_records_its_heartbeat(
    database: Database, webhook: Settings, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    event_id = await _emit(database, _order(), now=T0)
    started_at = T0 - timedelta(minutes=5)
    now = T0 + timedelta(seconds=2)
    context = worker.Context(database, webhook, http, started_at=started_at)

    done = await worker.run_due(context, FixedClock(now), {})

    assert done["deliver-events"] == 1
    assert done["heartbeat"] == 0
    assert receiver.ids() == [str(event_id)]
    assert (await _row(database, event_id)).status == "delivered"
    async with database.read_session() as session:
        beats = list(await session.scalars(select(WorkerHeartbeat)))
    assert [(b.worker_id, b.started_at, b.beat_at) for b in beats] == [
        (context.worker_id, started_at, now)
    ]


async def test_a_webhook_url_httpx_cannot_parse_is_recorded_as_a_failed_attempt(
    database: Database, http: httpx.AsyncClient, settings: Settings
) -> None:
    broken = settings.model_copy(update={"order_webhook_url": "http://[::1"})
    event_id = await _emit(database, _order(), now=T0)
    assert await delivery.deliver_due(database, broken, http, now=T0) == 0
    row = await _row(database, event_id)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error is not None
    assert "InvalidURL" in row.last_error


def test_a_webhook_url_that_is_not_http_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="ORDER_WEBHOOK_URL"):
        Settings(order_webhook_url="ftp://orders.example/hook", _env_file=None)  # type: ignore[call-arg]
