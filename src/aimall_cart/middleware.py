"""ASGI middleware: request ids, size limits, security headers, the last word on errors, and
how many requests are worked on at once."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import uuid
from collections.abc import Awaitable, Sequence
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aimall_cart.errors import Unavailable
from aimall_cart.turns import Turns

log = logging.getLogger("aimall_cart")
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

Headers = Sequence[tuple[bytes, bytes]]


class ProblemSender(Protocol):
    """Sends a problem+json answer straight to the client, from below the framework."""

    def __call__(
        self, send: Send, status: int, code: str, detail: str, *, headers: Headers = ()
    ) -> Awaitable[None]: ...


class RequestId:
    """Echo a sane ``X-Request-ID`` or mint one, and keep it for the logs of this request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _ACCEPTABLE_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse bodies over ``max_bytes`` with 413, by declared length or by counting as they come.

    The framework turns a failing body read into its own 400, so once the limit is crossed the
    inner response is dropped and the 413 is sent instead.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, send_problem: ProblemSender) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.send_problem = send_problem

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        exceeded = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            if not exceeded:
                await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counting_receive, guarded_send)
        if exceeded:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        await self.send_problem(
            send,
            413,
            "payload_too_large",
            f"The request body may be at most {self.max_bytes} bytes",
        )


class HeaderLimit:
    """Refuse requests whose headers together exceed ``max_bytes`` with 431, before any work:
    a megabyte of ``Authorization`` is not worth verifying."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, send_problem: ProblemSender) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.send_problem = send_problem

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(name) + len(value) for name, value in scope["headers"])
            if size > self.max_bytes:
                detail = f"The request headers may be at most {self.max_bytes} bytes together"
                await self.send_problem(send, 431, "headers_too_large", detail)
                return
        await self.app(scope, receive, send)


_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
_NOT_A_PAGE = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_NO_STORE = (b"cache-control", b"no-store")
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class SecurityHeaders:
    """Headers every answer carries: no sniffing, no framing, no referrer (links carry tokens);
    nothing stored by caches unless the route says otherwise (carts, orders and tokens are
    personal); HSTS when the request came over TLS; and a locked-down CSP on anything that is
    not an HTML page (pages set their own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        over_tls = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _secured(list(message.get("headers", [])), over_tls)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _secured(headers: list[tuple[bytes, bytes]], over_tls: bool) -> list[tuple[bytes, bytes]]:
    names = {name.lower() for name, _ in headers}
    headers.extend(_ALWAYS)
    if b"cache-control" not in names:
        headers.append(_NO_STORE)
    if b"content-security-policy" not in names:
        content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
        if not content_type.startswith(b"text/html"):
            headers.append(_NOT_A_PAGE)
    if over_tls:
        headers.append(_HSTS)
    return headers


class ServerErrors:
    """Turn an unexpected exception into a 500 problem inside the request-id and header layers,
    so even a bug's answer carries ``X-Request-ID`` and the security headers. Logged with the id,
    answered without a traceback."""

    def __init__(self, app: ASGIApp, *, send_problem: ProblemSender) -> None:
        self.app = app
        self.send_problem = send_problem

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error request_id=%s", request_id.get())
            if started:  # too late to answer; the server closes the connection
                raise
            await self.send_problem(send, 500, "internal", "Something went wrong on our side")


# Probes and the scrape answer whatever the queue holds: a busy process is not a dead one.
_NEVER_QUEUED = frozenset({"/healthz", "/readyz", "/metrics"})
_RETRY_SOON = ((b"retry-after", b"1"),)


class InFlightLimit:
    """Work on at most ``limit`` requests at once; later ones wait, strictly in the order they
    came, and are answered 503 ``busy`` (``Retry-After``) when ``timeout_seconds`` pass first.

    Without it, every request a process has read is worked on at once, each step of each one
    queued behind the steps of all the others: under overload a request's time then depends on
    how many steps it takes and on how many requests arrive while it is under way, and the
    slowest wait several times the median. In turns, every request waits about the same.
    """

    def __init__(
        self, app: ASGIApp, *, limit: int, timeout_seconds: float, send_problem: ProblemSender
    ) -> None:
        self.app = app
        self.turns = Turns(limit)
        self.timeout_seconds = timeout_seconds
        self.send_problem = send_problem

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _NEVER_QUEUED:
            await self.app(scope, receive, send)
            return
        try:
            await self.turns.take(timeout_seconds=self.timeout_seconds)
        except TimeoutError:
            detail = "The service is busy; retry"
            await self.send_problem(send, 503, Unavailable.code, detail, headers=_RETRY_SOON)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.turns.give_back()
