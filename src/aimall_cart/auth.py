"""Who is calling: members by JWT, guests by cart token, and role checks."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

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


class TokenVerifier:
    """Verifies member JWTs with the one algorithm family the configured key allows."""

    def __init__(self, settings: Settings) -> None:
        self._audience = settings.jwt_audience
        self._key: Any
        if settings.jwt_public_key:
            self._key = load_pem_public_key(settings.jwt_public_key.encode())
            if isinstance(self._key, rsa.RSAPublicKey):
                self._algorithms = ["RS256"]
            elif isinstance(self._key, ec.EllipticCurvePublicKey):
                self._algorithms = ["ES256"]
            else:
                raise ValueError("AIMALL_CART_JWT_PUBLIC_KEY must be an RSA or EC key")
        else:
            self._key = settings.jwt_secret
            self._algorithms = ["HS256"]

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                audience=self._audience,
                options={"require": ["exp", "sub"], "verify_aud": self._audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated("The bearer token is not valid") from exc
        sub, role, seller_id = (
            claims["sub"],
            claims.get("role", "customer"),
            claims.get("seller_id"),
        )
        if not _is_identifier(sub) or role not in ROLES:
            raise Unauthenticated("The bearer token is not valid")
        if role == "seller" and not _is_identifier(seller_id):
            raise Unauthenticated("A seller token must carry seller_id")
        return Principal(user_id=sub, role=role, seller_id=seller_id if role == "seller" else None)


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
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


async def _principal(request: Request) -> Principal:
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


CurrentPrincipal = Annotated[Principal, Depends(_principal)]
