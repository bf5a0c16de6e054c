"""Who is calling: members by JWT, guests by cart token, and role checks."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, cast

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import Depends, Request

from aimall_cart.config import Settings
from aimall_cart.crypto import keyed_hash
from aimall_cart.errors import Forbidden, Unauthenticated

Role = Literal["customer", "seller", "admin"]
ROLES: frozenset[str] = frozenset({"customer", "seller", "admin"})


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller. ``user_id`` is None for a guest, who may hold a cart token (kept only hashed)."""

    user_id: str | None = None
    role: Role | None = None
    seller_id: str | None = None
    cart_token_hash: str | None = None

    def require(self, *roles: Role) -> None:
        if self.user_id is None:
            raise Unauthenticated("Sign in to do this")
        if self.role not in roles:
            raise Forbidden("Your role may not do this")


MIN_RSA_BITS = 2048
CLOCK_SKEW_SECONDS = 30
VERIFIED_TOKENS_KEPT = 10_000


class TokenVerifier:
    """Verifies member JWTs with the one algorithm family the configured key allows.

    A token must be for us: one that names an audience is refused unless it is the configured
    one, an issuer is required when one is configured, and no token may live longer than
    ``jwt_max_lifetime_seconds``, so a leaked one does not open the door for long.
    """

    def __init__(self, settings: Settings) -> None:
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._max_lifetime = settings.jwt_max_lifetime_seconds
        self._verified: dict[str, tuple[Principal, float]] = {}
        self._key: Any
        if settings.jwt_public_key:
            self._key, self._algorithms = _public_key(settings.jwt_public_key)
        else:
            self._key = settings.jwt_secret
            self._algorithms = ["HS256"]

    def verify(self, token: str) -> Principal:
        """The member the token names. A token verified before is answered from memory until its
        ``exp``: the rate limiter, the idempotency keys and the endpoint each ask, once per request.
        Keyed by the whole token, signature included, so only that exact token hits."""
        now = time.time()
        if (known := self._verified.get(token)) is not None and known[1] > now:
            return known[0]
        claims = self._claims(token)
        principal = _principal_of(claims)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            self._verified.clear()
        self._verified[token] = (principal, float(claims["exp"]))
        return principal

    def _claims(self, token: str) -> dict[str, Any]:
        required = ["exp", "sub"] + (["iss"] if self._issuer else [])
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": required, "verify_aud": True},
            )
        except (jwt.PyJWTError, TypeError) as exc:  # TypeError: claims of the wrong JSON type
            raise Unauthenticated("The bearer token is not valid") from exc
        if not self._lives_within_the_cap(claims):
            raise Unauthenticated("The bearer token lives too long")
        return claims

    def _lives_within_the_cap(self, claims: dict[str, Any]) -> bool:
        now = time.time()
        issued = claims.get("iat", now)
        if not isinstance(issued, int | float) or issued > now + CLOCK_SKEW_SECONDS:
            return False
        lifetime = claims["exp"] - min(issued, now)
        return bool(lifetime <= self._max_lifetime + CLOCK_SKEW_SECONDS)


def _public_key(pem: str) -> tuple[Any, list[str]]:
    """The verifying key and its one algorithm; keys too weak to trust refuse to start."""
    key = load_pem_public_key(pem.encode())
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise ValueError(f"AIMALL_CART_JWT_PUBLIC_KEY: RSA keys need {MIN_RSA_BITS} bits")
        return key, ["RS256"]
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("AIMALL_CART_JWT_PUBLIC_KEY: EC keys must be on P-256 for ES256")
        return key, ["ES256"]
    raise ValueError("AIMALL_CART_JWT_PUBLIC_KEY must be an RSA or EC key")


def _principal_of(claims: dict[str, Any]) -> Principal:
    """The member the claims name; any claim of the wrong shape refuses the token."""
    sub, role, seller_id = claims["sub"], claims.get("role", "customer"), claims.get("seller_id")
    if not _is_identifier(sub) or not isinstance(role, str) or role not in ROLES:
        raise Unauthenticated("The bearer token is not valid")
    if role == "seller" and not _is_identifier(seller_id):
        raise Unauthenticated("A seller token must carry seller_id")
    return Principal(
        user_id=sub,
        role=cast(Role, role),
        seller_id=seller_id if role == "seller" else None,
    )


def _is_identifier(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 128 and value.isprintable()


def issue_token(
    settings: Settings,
    *,
    sub: str,
    role: Role,
    now: datetime,
    ttl: timedelta,
    seller_id: str | None = None,
) -> str:
    """A development HS256 token signed with the configured secret."""
    claims: dict[str, Any] = {"sub": sub, "role": role, "iat": now, "exp": now + ttl}
    if seller_id is not None:
        claims["seller_id"] = seller_id
    if settings.jwt_audience is not None:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer is not None:
        claims["iss"] = settings.jwt_issuer
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


async def request_principal(request: Request) -> Principal:
    """Who sends the request: a member by bearer token, a guest by cart token, both, or neither."""
    settings: Settings = request.app.state.settings
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = Principal()
    if (authorization := request.headers.get("authorization")) is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("Use 'Authorization: Bearer <token>'")
        principal = verifier.verify(token.strip())
    if cart_token := request.headers.get("x-cart-token"):
        token_hash = keyed_hash(cart_token, key=settings.token_hash_key)
        principal = replace(principal, cart_token_hash=token_hash)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(request_principal)]
