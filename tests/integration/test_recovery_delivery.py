"""Recovery messages leave through the outbox: email over SMTP, the webhook to its own URL.

The mail server (aiosmtpd on loopback) and the webhook receivers are process edges, so they are
the real servers faked; ``deliver_due`` is driven with ``now`` stepped over the backoff.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from aimall_cart import delivery, mail
from aimall_cart.config import DEV_DATA_KEYS, Settings
from aimall_cart.crypto import key_ring
from aimall_cart.db import Database
from aimall_cart.events import OutboxEvent, emit
from aimall_cart.recovery import channels
from tests.ports import free_port
from tests.receiver import Receiver

ADDRESS = "alex.shopper@example.org"
SETTINGS_KEYS = key_ring(DEV_DATA_KEYS)
ORDER_SECRET = "order-webhook-secret-0123456789abcdef0123456789"
RECOVERY_SECRET = "recovery-webhook-secret-0123456789abcdef01234567"
UNSUBSCRIBE_URL = "https://shop.example/unsubscribe?token=tok-123"
BASE = 10.0  # webhook_backoff_base_seconds
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Inbox:
    """An aiosmtpd handler that keeps what it is given; ``refuse`` rejects every recipient,
    echoing the address as real servers do."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []
        self.refuse = False

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refuse:
            return f"550 5.1.1 <{address.upper()}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class MailServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=port)

    def __enter__(self) -> MailServer:
        self._controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._controller.stop()


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def mail_server(port: int) -> Iterator[MailServer]:
    with MailServer(port) as server:
        yield server


@pytest.fixture
def smtp(settings: Settings, port: int) -> Settings:
    """The test settings pointed at the loopback mail server, with round numbers for backoff."""
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "webhook_timeout_seconds": 2.0,
            "webhook_backoff_base_seconds": BASE,
        }
    )


@pytest.fixture
async def receivers() -> AsyncIterator[tuple[Receiver, Receiver]]:
    """An order receiver and a recovery receiver."""
    pair = (Receiver(), Receiver())
    for receiver in pair:
        await receiver.start()
    yield pair
    for receiver in pair:
        await receiver.stop()


@pytest.fixture
def webhooks(settings: Settings, receivers: tuple[Receiver, Receiver]) -> Settings:
    orders, recovery = receivers
    return settings.model_copy(
        update={
            "order_webhook_url": orders.url,
            "order_webhook_secret": ORDER_SECRET,
            "recovery_webhook_url": recovery.url,
            "recovery_webhook_secret": RECOVERY_SECRET,
        }
    )


async def _emit(database: Database, event_type: str, payload: dict[str, Any]) -> uuid.UUID:
    async with database.write_session() as session:
        event = emit(session, event_type, payload, keys=SETTINGS_KEYS, person=None, now=T0)
        await session.commit()
    return event.id


async def _emit_email(database: Database, settings: Settings) -> tuple[uuid.UUID, str]:
    notification_id = str(uuid.uuid4())
    payload = mail.email_payload(
        notification_id=notification_id,
        to=ADDRESS,
        subject="Prices have changed on Enamel mug",
        body="Hi Alex,\n\nTotal: USD 64.98\n",
        unsubscribe_url=UNSUBSCRIBE_URL,
    )
    return await _emit(database, channels.EMAIL_EVENT, payload), notification_id


async def _row(database: Database, event_id: uuid.UUID) -> OutboxEvent:
    async with database.read_session() as session:
        row = await session.get(OutboxEvent, event_id)
    assert row is not None
    return row


def _signed_by(secret: str, body: bytes) -> str:
    return delivery.signature(secret, body)


async def test_an_email_event_reaches_the_mail_server_with_its_headers(
    database: Database, smtp: Settings, http: httpx.AsyncClient, mail_server: MailServer
) -> None:
    event_id, notification_id = await _emit_email(database, smtp)

    assert await delivery.deliver_due(database, smtp, http, now=T0) == 1

    [(recipients, message)] = mail_server.inbox.received
    assert recipients == [ADDRESS]
    assert message["To"] == ADDRESS
    assert message["From"] == smtp.smtp_sender
    assert message["Subject"] == "Prices have changed on Enamel mug"
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE_URL}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"] == f"<{notification_id}@aimall.example>"
    body = message.get_body()
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == "Hi Alex,\n\nTotal: USD 64.98\n"
    row = await _row(database, event_id)
    assert (row.status, row.attempts, row.delivered_at) == ("delivered", 1, T0)
    assert ADDRESS not in json.dumps(row.payload)


async def test_an_email_is_retried_with_backoff_while_the_mail_server_is_down(
    database: Database, smtp: Settings, http: httpx.AsyncClient, port: int
) -> None:
    event_id, _ = await _emit_email(database, smtp)

    assert await delivery.deliver_due(database, smtp, http, now=T0) == 0
    row = await _row(database, event_id)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at == T0 + timedelta(seconds=BASE)
    assert row.last_error is not None
    assert "ConnectionRefused" in row.last_error

    second = T0 + timedelta(seconds=BASE)
    assert await delivery.deliver_due(database, smtp, http, now=second) == 0
    row = await _row(database, event_id)
    assert (row.status, row.attempts) == ("pending", 2)
    assert row.next_attempt_at == second + timedelta(seconds=2 * BASE)

    third = second + timedelta(seconds=2 * BASE)
    with MailServer(port) as server:
        assert await delivery.deliver_due(database, smtp, http, now=third) == 1
    assert [recipients for recipients, _ in server.inbox.received] == [[ADDRESS]]
    row = await _row(database, event_id)
    assert (row.status, row.attempts, row.delivered_at, row.last_error) == (
        "delivered",
        3,
        third,
        None,
    )


async def test_a_mail_server_that_never_answers_is_given_up_on_after_the_timeout(
    database: Database, smtp: Settings, http: httpx.AsyncClient
) -> None:
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accepts the connection and never sends a greeting

    silent = await asyncio.start_server(hold, "127.0.0.1", 0)
    quick = smtp.model_copy(
        update={"smtp_port": silent.sockets[0].getsockname()[1], "webhook_timeout_seconds": 0.2}
    )
    event_id, _ = await _emit_email(database, quick)
    try:
        started = time.monotonic()
        assert await delivery.deliver_due(database, quick, http, now=T0) == 0
        assert time.monotonic() - started < 2.0
    finally:
        for writer in held:
            writer.close()
        silent.close()
        await silent.wait_closed()

    assert held
    row = await _row(database, event_id)
    assert (row.status, row.attempts, row.next_attempt_at) == (
        "pending",
        1,
        T0 + timedelta(seconds=BASE),
    )
    assert row.last_error is not None
    assert "timed out" in row.last_error


async def test_a_refused_recipient_is_retried_and_nothing_recorded_names_the_address(
    database: Database,
    smtp: Settings,
    http: httpx.AsyncClient,
    mail_server: MailServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    mail_server.inbox.refuse = True
    event_id, _ = await _emit_email(database, smtp)

    with caplog.at_level(logging.INFO, logger="aimall_cart"):
        assert await delivery.deliver_due(database, smtp, http, now=T0) == 0

    row = await _row(database, event_id)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error is not None
    assert "SMTPRecipientsRefused" in row.last_error
    assert "550" in row.last_error
    assert ADDRESS not in row.last_error.lower()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert str(event_id) in logged
    assert "SMTPRecipientsRefused" in logged
    assert ADDRESS not in logged.lower()
    assert mail_server.inbox.received == []


@pytest.mark.parametrize("configured", [True, False])
async def test_the_log_line_of_an_email_event_does_not_name_the_address(
    configured: bool,
    database: Database,
    smtp: Settings,
    http: httpx.AsyncClient,
    mail_server: MailServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = smtp if configured else smtp.model_copy(update={"smtp_host": None})
    event_id, _ = await _emit_email(database, settings)

    with caplog.at_level(logging.INFO, logger="aimall_cart.events"):
        assert await delivery.deliver_due(database, settings, http, now=T0) == 1

    [line] = [r.getMessage() for r in caplog.records if r.name == "aimall_cart.events"]
    assert str(event_id) in line
    for personal in (ADDRESS, "Alex", UNSUBSCRIBE_URL, "tok-123"):
        assert personal not in line
    assert len(mail_server.inbox.received) == (1 if configured else 0)
    assert (await _row(database, event_id)).status == "delivered"


async def test_an_address_sealed_under_another_key_is_retried_not_sent(
    database: Database, smtp: Settings, http: httpx.AsyncClient, mail_server: MailServer
) -> None:
    event_id, _ = await _emit_email(database, smtp)
    rotated = smtp.model_copy(
        update={"data_keys": "other:a-different-data-key-0123456789abcdef0123"}
    )

    assert await delivery.deliver_due(database, rotated, http, now=T0) == 0

    row = await _row(database, event_id)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error is not None
    assert "unreadable payload" in row.last_error
    assert "'dev'" in row.last_error
    assert mail_server.inbox.received == []


async def test_a_recovery_webhook_event_goes_to_the_recovery_url_signed_with_its_secret(
    database: Database,
    webhooks: Settings,
    http: httpx.AsyncClient,
    receivers: tuple[Receiver, Receiver],
) -> None:
    orders, recovery = receivers
    payload = {"notification_id": "n-1", "subject": "S", "body": "B", "user_id": "user-1"}
    event_id = await _emit(database, channels.WEBHOOK_EVENT, payload)

    assert await delivery.deliver_due(database, webhooks, http, now=T0) == 1

    assert orders.requests == []
    [request] = recovery.requests
    assert request.headers["x-event-id"] == str(event_id)
    assert request.headers["x-event-type"] == "recovery.webhook"
    assert request.headers["x-signature"] == _signed_by(RECOVERY_SECRET, request.body)
    assert request.headers["x-signature"] != _signed_by(ORDER_SECRET, request.body)
    body = json.loads(request.body)
    assert (body["id"], body["type"], body["data"]) == (str(event_id), "recovery.webhook", payload)
    assert (await _row(database, event_id)).status == "delivered"


async def test_a_failing_recovery_webhook_is_retried_with_backoff(
    database: Database,
    webhooks: Settings,
    http: httpx.AsyncClient,
    receivers: tuple[Receiver, Receiver],
) -> None:
    _, recovery = receivers
    timed = webhooks.model_copy(update={"webhook_backoff_base_seconds": BASE})
    recovery.fail_next = 1
    event_id = await _emit(database, channels.WEBHOOK_EVENT, {"notification_id": "n-1"})

    assert await delivery.deliver_due(database, timed, http, now=T0) == 0
    row = await _row(database, event_id)
    assert (row.status, row.attempts, row.next_attempt_at) == (
        "pending",
        1,
        T0 + timedelta(seconds=BASE),
    )

    assert await delivery.deliver_due(database, timed, http, now=row.next_attempt_at) == 1
    assert recovery.ids() == [str(event_id)] * 2


async def test_order_placed_still_goes_to_the_order_url_only(
    database: Database,
    webhooks: Settings,
    http: httpx.AsyncClient,
    receivers: tuple[Receiver, Receiver],
) -> None:
    orders, recovery = receivers
    event_id = await _emit(database, "order.placed", {"order_id": "order-1"})

    assert await delivery.deliver_due(database, webhooks, http, now=T0) == 1

    assert recovery.requests == []
    [request] = orders.requests
    assert request.headers["x-event-type"] == "order.placed"
    assert request.headers["x-signature"] == _signed_by(ORDER_SECRET, request.body)
    assert (await _row(database, event_id)).status == "delivered"


async def test_without_a_recovery_webhook_url_the_event_is_logged_by_id_and_counted_delivered(
    database: Database,
    webhooks: Settings,
    http: httpx.AsyncClient,
    receivers: tuple[Receiver, Receiver],
    caplog: pytest.LogCaptureFixture,
) -> None:
    log_only = webhooks.model_copy(update={"recovery_webhook_url": None})
    event_id = await _emit(database, channels.WEBHOOK_EVENT, {"notification_id": "n-42"})

    with caplog.at_level(logging.INFO, logger="aimall_cart.events"):
        assert await delivery.deliver_due(database, log_only, http, now=T0) == 1

    assert [r.requests for r in receivers] == [[], []]
    assert any(str(event_id) in record.getMessage() for record in caplog.records)
    assert (await _row(database, event_id)).status == "delivered"


async def test_an_event_no_channel_delivers_is_kept_and_retried_until_dead(
    database: Database,
    webhooks: Settings,
    http: httpx.AsyncClient,
    receivers: tuple[Receiver, Receiver],
) -> None:
    once = webhooks.model_copy(update={"webhook_max_attempts": 2})
    event_id = await _emit(database, "recovery.sms", {"notification_id": "n-1"})

    assert await delivery.deliver_due(database, once, http, now=T0) == 0
    row = await _row(database, event_id)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error == "no channel delivers events of type 'recovery.sms'"

    assert await delivery.deliver_due(database, once, http, now=row.next_attempt_at) == 0
    assert (await _row(database, event_id)).status == "dead"
    assert [r.requests for r in receivers] == [[], []]
