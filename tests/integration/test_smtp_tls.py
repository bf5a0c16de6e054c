"""An SMTP password never crosses the network in the clear: no login without STARTTLS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, Session
from pydantic import ValidationError

from aimall_cart import mail
from aimall_cart.config import Settings
from tests.ports import free_port


class Recorder:
    """A mail server without TLS that would accept any login, and notes every attempt."""

    def __init__(self) -> None:
        self.logins: list[Any] = []
        self.messages: list[bytes] = []

    def authenticate(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        self.logins.append(auth_data)
        return AuthResult(success=True)

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def recorder() -> Iterator[tuple[Recorder, int]]:
    handler, port = Recorder(), free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=handler.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


async def _send(settings: Settings) -> None:
    await mail.send(
        settings,
        to="ann@mail.example.com",
        subject="Your cart",
        body="Still thinking?",
        unsubscribe_url="https://shop.example/v1/unsubscribe?token=t",
        message_id="<n-1@aimall.example>",
    )


@pytest.mark.parametrize("starttls", [False, True])
async def test_a_login_is_never_sent_without_starttls(
    recorder: tuple[Recorder, int], starttls: bool
) -> None:
    handler, port = recorder
    settings = Settings(_env_file=None, smtp_host="127.0.0.1", smtp_port=port)  # type: ignore[call-arg]
    settings = settings.model_copy(
        update={"smtp_username": "cart", "smtp_password": "s3cret", "smtp_starttls": starttls}
    )
    with pytest.raises(mail.SendFailed, match=r"(?i)starttls"):
        await _send(settings)
    assert (handler.logins, handler.messages) == ([], [])


async def test_without_a_login_plain_smtp_still_delivers(recorder: tuple[Recorder, int]) -> None:
    handler, port = recorder
    settings = Settings(_env_file=None, smtp_host="127.0.0.1", smtp_port=port)  # type: ignore[call-arg]
    await _send(settings)
    assert len(handler.messages) == 1


def test_settings_refuse_a_login_without_starttls() -> None:
    with pytest.raises(ValidationError, match="SMTP_STARTTLS"):
        Settings(_env_file=None, smtp_host="mail.example", smtp_username="cart")  # type: ignore[call-arg]
