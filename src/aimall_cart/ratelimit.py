"""Rate limits per caller, counted in fixed one-minute windows by the ``limits`` library.

A caller is a member (by user id), a guest (by a keyed hash of the cart token) or, without
credentials, the client address; admins are not limited. Checkout starts hold stock, so they
also count against a tighter limit of their own: per member, and per client address for everyone
else, since a new guest token is free to mint. Counters live in the process, or in Redis when
``AIMALL_CART_REDIS_URL`` is set so that every server process counts together. One counter is hit
per request (two for a checkout start) and nothing touches the database. If Redis cannot be
reached the request goes through: an outage of the counters must not close the shop.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError
from starlette.types import ASGIApp, Receive, Scope, Send

from aimall_cart.auth import TokenVerifier
from aimall_cart.config import Settings
from aimall_cart.crypto import keyed_hash
from aimall_cart.errors import Unauthenticated
from aimall_cart.middleware import ProblemSender

log = logging.getLogger("aimall_cart")

NAMESPACE = "aimall_cart"
CHECKOUT_START = ("POST", "/v1/cart/checkout")
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz"})


@dataclass(frozen=True, slots=True)
class Caller:
    kind: str  # anonymous | guest | member
    identity: str
    address: str

    @property
    def checkout_identity(self) -> str:
        return self.identity if self.kind == "member" else self.address


def storage_for(redis_url: str | None) -> Storage:
    if redis_url is None:
        return MemoryStorage()
    return RedisStorage(
        f"async+{redis_url}", implementation="redispy", wrap_exceptions=True, key_prefix=NAMESPACE
    )


class RateLimits:
    """The ASGI side: counts the request against its caller and answers 429 past the limit."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        verifier: TokenVerifier,
        send_problem: ProblemSender,
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.token_hash_key = settings.token_hash_key
        self.send_problem = send_problem
        self.limiter = FixedWindowRateLimiter(storage_for(settings.redis_url))
        self.quotas: dict[str, RateLimitItem] = {
            "anonymous": _per_minute(settings.rate_limit_anonymous_per_minute),
            "guest": _per_minute(settings.rate_limit_guest_per_minute),
            "member": _per_minute(settings.rate_limit_member_per_minute),
        }
        self.checkout_quota = _per_minute(settings.rate_limit_checkout_per_minute)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        caller = self._caller(scope)
        if caller is not None:
            counters = [(self.quotas[caller.kind], caller.kind, caller.identity)]
            if (scope["method"], scope["path"]) == CHECKOUT_START:
                counters.append((self.checkout_quota, "checkout", caller.checkout_identity))
            for quota, *identifiers in counters:
                if (retry_after := await self._spend(quota, *identifiers)) is not None:
                    await self._refuse(send, retry_after)
                    return
        await self.app(scope, receive, send)

    def _caller(self, scope: Scope) -> Caller | None:
        """Who to count against; None for an admin. A bad token counts as its address."""
        headers = dict(scope["headers"])
        client = scope.get("client")
        address = client[0] if client else "unknown"
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() == "bearer":
            try:
                principal = self.verifier.verify(token.strip())
            except Unauthenticated:
                pass
            else:
                if principal.role == "admin":
                    return None
                return Caller("member", str(principal.user_id), address)
        elif cart_token := headers.get(b"x-cart-token"):
            token_hash = keyed_hash(cart_token.decode("latin-1"), key=self.token_hash_key)
            return Caller("guest", token_hash, address)
        return Caller("anonymous", address, address)

    async def _spend(self, quota: RateLimitItem, *identifiers: str) -> int | None:
        """None when the request may go on, else the seconds until the window resets."""
        try:
            if await self.limiter.hit(quota, *identifiers):
                return None
            stats = await self.limiter.get_window_stats(quota, *identifiers)
        except StorageError as exc:
            log.warning("rate limit counters unreachable, not limiting: %s", type(exc).__name__)
            return None
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def _refuse(self, send: Send, retry_after: int) -> None:
        await self.send_problem(
            send,
            429,
            "rate_limited",
            f"Too many requests; retry after {retry_after} seconds",
            headers=[(b"retry-after", str(retry_after).encode())],
        )


def _per_minute(amount: int) -> RateLimitItem:
    return RateLimitItemPerMinute(amount, namespace=NAMESPACE)
