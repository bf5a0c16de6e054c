"""``Idempotency-Key`` on POST: the first response is kept and replayed to repeats.

A key belongs to its caller (member or guest token) and is bound to a fingerprint of method, path,
query and JSON body. The first request claims the key in its own transaction before it runs; a
repeat while it runs is told so (409), a repeat with another body is refused (422), and a repeat
after it finished gets the same status and body back, marked ``Idempotent-Replayed``. Responses
are kept sealed under the data key ring (they can carry a new guest token), so rotation re-seals
them too. A 5xx is not kept, so the client may retry. A process that dies mid-request leaves its
claim until ``idempotency_lock_seconds`` pass; then the key may run again.

A request without credentials names no caller: two strangers may send the same key, and a replay
would hand one of them the other's cart token. Such requests are never recorded or replayed; each
runs as its own (a retry makes a second, empty guest cart at worst).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import orjson
from sqlalchemy import LargeBinary, Row, String, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aimall_cart.auth import TokenVerifier
from aimall_cart.clock import Clock
from aimall_cart.config import Settings
from aimall_cart.crypto import KeyRing, Unreadable, keyed_hash
from aimall_cart.db import Base, Database
from aimall_cart.errors import Unauthenticated
from aimall_cart.middleware import ProblemSender
from aimall_cart.rotation import Resealer

KEPT_HEADERS = frozenset({b"content-type", b"etag", b"x-cart-token", b"location"})


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    caller: Mapped[str] = mapped_column(String(160), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # in_progress | completed
    response: Mapped[bytes | None] = mapped_column(LargeBinary)
    locked_until: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


Claim = Literal["started", "in_progress", "reused"]


@dataclass(frozen=True, slots=True)
class Stored:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


def fingerprint(method: str, path: str, query: bytes, body: bytes, guest_cart: bytes = b"") -> str:
    """Same request, same fingerprint: JSON bodies are compared by meaning, not by spacing."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):  # not JSON, or nested past what can be parsed
        canonical = body
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, canonical, guest_cart):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


async def claim(
    session: AsyncSession,
    *,
    caller: str,
    key: str,
    fingerprint: str,
    now: datetime,
    ttl: timedelta,
    lock: timedelta,
) -> Claim | IdempotencyRecord:
    """Claim the key for this request, or say why not; a finished record is returned as is."""
    record = await session.get(IdempotencyRecord, (caller, key), with_for_update=True)
    if record is not None and record.expires_at > now:
        if record.fingerprint != fingerprint:
            return "reused"
        if record.status == "completed":
            return record
        if record.locked_until > now:
            return "in_progress"
    if record is None:
        record = IdempotencyRecord(caller=caller, key=key)
        session.add(record)
    record.fingerprint, record.status, record.response = fingerprint, "in_progress", None
    record.locked_until, record.expires_at = now + lock, now + ttl
    await session.flush()
    return "started"


async def purge_expired(session: AsyncSession, *, now: datetime) -> int:
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


class IdempotencyKeys:
    """The ASGI side: claims keys, runs the request once, keeps and replays its response."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        database: Database,
        verifier: TokenVerifier,
        clock: Clock,
        send_problem: ProblemSender,
    ) -> None:
        self.app = app
        self.settings = settings
        self.database = database
        self.verifier = verifier
        self.clock = clock
        self.send_problem = send_problem

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", ()))
        key_header = headers.get(b"idempotency-key")
        if scope["type"] != "http" or scope["method"] != "POST" or key_header is None:
            await self.app(scope, receive, send)
            return
        key = key_header.decode("latin-1")
        if not 1 <= len(key) <= 255 or not key.isprintable():
            await self.send_problem(
                send,
                422,
                "invalid_idempotency_key",
                "Idempotency-Key must be 1-255 printable characters",
            )
            return
        caller = self._caller(headers)
        if caller is None:  # no one to scope a record to; a bad bearer token is the endpoint's 401
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        # A member who also names a guest cart (a merge) sends it as input, not as identity.
        guest_cart = headers.get(b"x-cart-token", b"") if caller.startswith("member:") else b""
        print_ = fingerprint(
            scope["method"], scope["path"], scope.get("query_string", b""), body, guest_cart
        )
        outcome = await self._claim(caller, key, print_)
        if outcome == "reused":
            await self.send_problem(
                send,
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was used with another request",
            )
        elif outcome == "in_progress":
            await self.send_problem(
                send,
                409,
                "idempotency_in_progress",
                "A request with this Idempotency-Key is still running",
            )
        elif isinstance(outcome, IdempotencyRecord):
            await self._replay(send, caller, key, outcome)
        else:
            await self._run_once(scope, body, send, caller, key)

    def _caller(self, headers: dict[bytes, bytes]) -> str | None:
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = authorization.partition(" ")
        if authorization:
            if scheme.lower() != "bearer":
                return None
            try:
                return "member:" + str(self.verifier.verify(token.strip()).user_id)
            except Unauthenticated:
                return None
        if cart_token := headers.get(b"x-cart-token"):
            return "guest:" + keyed_hash(
                cart_token.decode("latin-1"), key=self.settings.token_hash_key
            )
        return None

    async def _claim(self, caller: str, key: str, print_: str) -> Claim | IdempotencyRecord:
        now = await self.clock.now()
        for _ in range(2):  # a racing first claim makes the second one see it on the retry
            async with self.database.write_session() as session:
                try:
                    outcome = await claim(
                        session,
                        caller=caller,
                        key=key,
                        fingerprint=print_,
                        now=now,
                        ttl=timedelta(hours=self.settings.idempotency_ttl_hours),
                        lock=timedelta(seconds=self.settings.idempotency_lock_seconds),
                    )
                    await session.commit()
                except IntegrityError:
                    continue
                return outcome
        return "in_progress"

    async def _run_once(self, scope: Scope, body: bytes, send: Send, caller: str, key: str) -> None:
        status, kept_headers, chunks = 500, [], []

        async def replay_body() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            nonlocal status, kept_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                kept_headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() in KEPT_HEADERS
                ]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        finally:
            await self._finish(caller, key, Stored(status, kept_headers, b"".join(chunks)))

    async def _finish(self, caller: str, key: str, stored: Stored) -> None:
        async with self.database.write_session() as session:
            record = await session.get(IdempotencyRecord, (caller, key), with_for_update=True)
            if record is None:
                return
            if stored.status >= 500:
                await session.delete(record)
            else:
                record.status = "completed"
                record.response = seal_response(self.settings.keys, caller, key, stored)
            await session.commit()

    async def _replay(self, send: Send, caller: str, key: str, record: IdempotencyRecord) -> None:
        assert record.response is not None
        try:
            stored = open_response(self.settings.keys, caller, key, record.response)
        except Unreadable:
            # Its key left the ring; the first request did run, so running it again is wrong.
            await self.send_problem(
                send,
                409,
                "idempotency_replay_unreadable",
                "The response to this Idempotency-Key can no longer be read; use a new key",
            )
            return
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in stored["headers"]]
        body = stored["body"].encode("latin-1")
        headers += [(b"idempotent-replayed", b"true"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": stored["status"], "headers": headers})
        await send({"type": "http.response.body", "body": body})


RESPONSE_PURPOSE = "idempotent-responses"


def seal_response(keys: KeyRing, caller: str, key: str, stored: Stored) -> bytes:
    """The response as kept: sealed under the primary key, bound to its caller and key."""
    document = {
        "status": stored.status,
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in stored.headers],
        "body": stored.body.decode("latin-1"),
    }
    return _sealed(keys, caller, key, document)


def _sealed(keys: KeyRing, caller: str, key: str, document: dict[str, Any]) -> bytes:
    text = orjson.dumps(document).decode()
    return keys.seal(text, purpose=RESPONSE_PURPOSE, context=f"{caller}\n{key}").encode()


def open_response(keys: KeyRing, caller: str, key: str, sealed: bytes) -> dict[str, Any]:
    """The kept response; ``crypto.Unreadable`` when no key of the ring opens it."""
    context = f"{caller}\n{key}"
    text = keys.open(bytes(sealed).decode("latin-1"), purpose=RESPONSE_PURPOSE, context=context)
    opened: dict[str, Any] = orjson.loads(text)
    return opened


def _reseal(keys: KeyRing, row: Row[Any]) -> dict[str, Any]:
    if row.response is None or keys.is_current(bytes(row.response)):
        return {}
    opened = open_response(keys, row.caller, row.key, row.response)
    return {"response": _sealed(keys, row.caller, row.key, opened)}


RESEALER = Resealer(IdempotencyRecord, ("response",), _reseal)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
