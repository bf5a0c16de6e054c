"""Who is calling: member JWTs (HS256, RS256, ES256, audience), guest cart tokens, and settings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import text

from aimall_cart.app import create_app
from aimall_cart.config import DEV_JWT_SECRET, DEV_TOKEN_HASH_KEY, Settings
from aimall_cart.db import Database
from tests.answers import problem_of
from tests.builders import bearer, make_product, token

AUDIENCE = "aimall-cart"
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


# Helpers


def claims(
    sub: str = "user-1", role: str | None = "customer", ttl: timedelta | None = None, **extra: Any
) -> dict[str, Any]:
    """JWT claims with integer times; ``ttl`` defaults to an hour, a negative one has expired."""
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "sub": sub,
        "iat": int(now.timestamp()),
        "exp": int((now + (ttl if ttl is not None else timedelta(hours=1))).timestamp()),
    }
    if role is not None:
        body["role"] = role
    return body | extra


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unsigned_token(payload: dict[str, Any]) -> str:
    """An ``alg: none`` token: header and payload, empty signature."""
    return f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(payload)}."


def hmac_token(payload: dict[str, Any], secret: str | bytes) -> str:
    """An HS256 token signed by hand, so any bytes (even a PEM public key) can be the secret."""
    key = secret.encode() if isinstance(secret, str) else secret
    signing_input = f"{segment({'alg': 'HS256', 'typ': 'JWT'})}.{segment(payload)}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def auth(jwt_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt_token}"}


def public_pem(private_key: PrivateKey) -> str:
    return (
        private_key.public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def rsa_key() -> PrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ec_key() -> PrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


ASYMMETRIC = [
    pytest.param("RS256", rsa_key, id="RS256"),
    pytest.param("ES256", ec_key, id="ES256"),
]


@asynccontextmanager
async def serve(settings: Settings, **update: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client for an app of its own, built from ``settings`` with ``update`` applied."""
    app = create_app(settings.model_copy(update=update))
    database: Database = app.state.database
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cart.test") as client:
            yield client
    finally:
        await database.dispose()


async def assert_member(client: httpx.AsyncClient, headers: dict[str, str], sub: str) -> None:
    """The credentials are accepted: the caller gets a member cart of their own."""
    response = await client.post("/v1/cart", headers=headers)
    assert response.status_code in (200, 201), response.text
    assert response.json()["owner"] == {"type": "member", "user_id": sub}


async def assert_refused(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """The credentials are refused on a read and on a write, and no cart is made."""
    problem_of(await client.get("/v1/cart", headers=headers), 401, "unauthenticated")
    problem_of(await client.post("/v1/cart", headers=headers), 401, "unauthenticated")


# HS256 member tokens


async def test_valid_hs256_token_identifies_the_member(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await assert_member(client, bearer(settings, "user-1"), "user-1")
    response = await client.get("/v1/cart", headers=bearer(settings, "user-1"))
    assert response.status_code == 200, response.text
    assert response.json()["owner"]["user_id"] == "user-1"


async def test_member_without_a_cart_reads_cart_not_found(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.get("/v1/cart", headers=bearer(settings, "user-1"))
    problem_of(response, 404, "cart_not_found")


async def test_hand_signed_hs256_token_with_the_secret_is_accepted(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    # Guards the helpers below: the refusals are about the token, not how it was built.
    await assert_member(client, auth(hmac_token(claims(), settings.jwt_secret)), "user-1")


async def test_alg_none_token_is_unauthenticated(client: httpx.AsyncClient) -> None:
    await assert_refused(client, auth(unsigned_token(claims(role="admin"))))


async def test_alg_none_header_on_a_validly_signed_token_is_unauthenticated(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _, payload, signature = hmac_token(claims(), settings.jwt_secret).split(".")
    forged = f"{segment({'alg': 'none', 'typ': 'JWT'})}.{payload}.{signature}"
    await assert_refused(client, auth(forged))


async def test_expired_token_is_unauthenticated(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    expired = jwt.encode(claims(ttl=timedelta(seconds=-30)), settings.jwt_secret, "HS256")
    await assert_refused(client, auth(expired))


async def test_tampered_payload_is_unauthenticated(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    header, _, signature = token(settings, "user-1").split(".")
    forged = f"{header}.{segment(claims(role='admin'))}.{signature}"
    await assert_refused(client, auth(forged))
    response = await client.put(
        "/v1/catalog/products/p-1", json=make_product(), headers=auth(forged)
    )
    problem_of(response, 401, "unauthenticated")


async def test_tampered_signature_is_unauthenticated(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    header, payload, signature = token(settings, "user-1").split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    await assert_refused(client, auth(f"{header}.{payload}.{flipped}"))


async def test_token_signed_with_the_wrong_secret_is_unauthenticated(
    client: httpx.AsyncClient,
) -> None:
    wrong = jwt.encode(claims(), secrets.token_hex(32), "HS256")
    await assert_refused(client, auth(wrong))


async def test_token_without_exp_is_unauthenticated(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    payload = claims()
    del payload["exp"]
    await assert_refused(client, auth(jwt.encode(payload, settings.jwt_secret, "HS256")))


async def test_token_without_sub_is_unauthenticated(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    payload = claims()
    del payload["sub"]
    await assert_refused(client, auth(jwt.encode(payload, settings.jwt_secret, "HS256")))


async def test_token_with_unknown_role_is_unauthenticated(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    for role in ("superuser", "Admin", ""):
        forged = jwt.encode(claims(role=role), settings.jwt_secret, "HS256")
        await assert_refused(client, auth(forged))


async def test_seller_token_without_seller_id_is_unauthenticated(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    seller = jwt.encode(claims(role="seller"), settings.jwt_secret, "HS256")
    await assert_refused(client, auth(seller))
    response = await client.put(
        "/v1/catalog/products/p-1", json=make_product(seller_id=None), headers=auth(seller)
    )
    problem_of(response, 401, "unauthenticated")


async def test_basic_authorization_is_unauthenticated(client: httpx.AsyncClient) -> None:
    basic = base64.b64encode(b"admin:admin").decode()
    await assert_refused(client, {"Authorization": f"Basic {basic}"})


async def test_bearer_without_a_token_is_unauthenticated(client: httpx.AsyncClient) -> None:
    await assert_refused(client, {"Authorization": "Bearer "})


async def test_garbage_bearer_token_is_unauthenticated(client: httpx.AsyncClient) -> None:
    await assert_refused(client, auth("not-a-jwt"))


async def test_customer_token_may_not_write_the_catalog(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.put(
        "/v1/catalog/products/p-1", json=make_product(), headers=bearer(settings, "user-1")
    )
    problem_of(response, 403, "forbidden")


# RS256 and ES256 with a configured public key


@pytest.mark.parametrize(("algorithm", "new_key"), ASYMMETRIC)
async def test_token_signed_with_the_matching_private_key_is_accepted(
    settings: Settings, algorithm: str, new_key: Callable[[], PrivateKey]
) -> None:
    private_key = new_key()
    async with serve(settings, jwt_public_key=public_pem(private_key)) as client:
        signed = jwt.encode(claims(sub="user-9"), private_key, algorithm)
        await assert_member(client, auth(signed), "user-9")
        admin_token = jwt.encode(claims(sub="admin-9", role="admin"), private_key, algorithm)
        response = await client.put(
            "/v1/catalog/products/p-1", json=make_product(), headers=auth(admin_token)
        )
        assert response.status_code == 201, response.text


@pytest.mark.parametrize(("algorithm", "new_key"), ASYMMETRIC)
async def test_hs256_token_keyed_with_the_public_key_pem_is_unauthenticated(
    settings: Settings, algorithm: str, new_key: Callable[[], PrivateKey]
) -> None:
    pem = public_pem(new_key())
    async with serve(settings, jwt_public_key=pem) as client:
        await assert_refused(client, auth(hmac_token(claims(role="admin"), pem)))
        await assert_refused(client, auth(hmac_token(claims(role="admin"), pem.strip())))


@pytest.mark.parametrize(("algorithm", "new_key"), ASYMMETRIC)
async def test_hs256_token_with_the_secret_is_refused_when_a_public_key_is_set(
    settings: Settings, algorithm: str, new_key: Callable[[], PrivateKey]
) -> None:
    async with serve(settings, jwt_public_key=public_pem(new_key())) as client:
        await assert_refused(client, bearer(settings, "user-1"))


@pytest.mark.parametrize(("algorithm", "new_key"), ASYMMETRIC)
async def test_token_signed_with_another_private_key_is_unauthenticated(
    settings: Settings, algorithm: str, new_key: Callable[[], PrivateKey]
) -> None:
    async with serve(settings, jwt_public_key=public_pem(new_key())) as client:
        await assert_refused(client, auth(jwt.encode(claims(), new_key(), algorithm)))


@pytest.mark.parametrize(("algorithm", "new_key"), ASYMMETRIC)
async def test_alg_none_token_is_unauthenticated_when_a_public_key_is_set(
    settings: Settings, algorithm: str, new_key: Callable[[], PrivateKey]
) -> None:
    async with serve(settings, jwt_public_key=public_pem(new_key())) as client:
        await assert_refused(client, auth(unsigned_token(claims(role="admin"))))


# Audience


async def test_token_without_aud_is_unauthenticated_when_audience_is_set(
    settings: Settings,
) -> None:
    async with serve(settings, jwt_audience=AUDIENCE) as client:
        await assert_refused(client, auth(jwt.encode(claims(), settings.jwt_secret, "HS256")))


async def test_token_for_another_audience_is_unauthenticated(settings: Settings) -> None:
    async with serve(settings, jwt_audience=AUDIENCE) as client:
        for aud in ("another-service", ["another-service"]):
            other = jwt.encode(claims(aud=aud), settings.jwt_secret, "HS256")
            await assert_refused(client, auth(other))


async def test_token_for_the_configured_audience_is_accepted(settings: Settings) -> None:
    async with serve(settings, jwt_audience=AUDIENCE) as client:
        right = jwt.encode(claims(aud=AUDIENCE), settings.jwt_secret, "HS256")
        await assert_member(client, auth(right), "user-1")
        listed = jwt.encode(claims(sub="user-2", aud=["x", AUDIENCE]), settings.jwt_secret, "HS256")
        await assert_member(client, auth(listed), "user-2")


# Guest cart tokens


async def test_guest_cart_token_carries_at_least_128_random_bits(
    client: httpx.AsyncClient,
) -> None:
    first = await client.post("/v1/cart")
    second = await client.post("/v1/cart")
    assert (first.status_code, second.status_code) == (201, 201), first.text
    tokens = [r.headers["X-Cart-Token"] for r in (first, second)]
    assert [r.json()["guest_token"] for r in (first, second)] == tokens
    assert first.json()["owner"]["type"] == "guest"
    for guest_token in tokens:
        assert len(guest_token) >= 43
        assert re.fullmatch(r"[A-Za-z0-9_-]+", guest_token)
        assert len(base64.urlsafe_b64decode(guest_token + "=" * (-len(guest_token) % 4))) >= 16
    assert tokens[0] != tokens[1]


async def test_guest_token_reads_its_own_cart_only(client: httpx.AsyncClient) -> None:
    first = await client.post("/v1/cart")
    second = await client.post("/v1/cart")
    read = await client.get("/v1/cart", headers={"X-Cart-Token": first.headers["X-Cart-Token"]})
    assert read.status_code == 200, read.text
    assert read.json()["id"] == first.json()["id"] != second.json()["id"]
    assert read.json()["guest_token"] is None
    assert "X-Cart-Token" not in read.headers


async def test_database_keeps_only_a_keyed_hash_of_the_guest_token(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    response = await client.post("/v1/cart")
    assert response.status_code == 201, response.text
    guest_token = response.headers["X-Cart-Token"]
    database: Database = app.state.database
    async with database.read_session() as session:
        hashes = list(await session.scalars(text("SELECT guest_token_hash FROM carts")))
        rows = (await session.execute(text("SELECT * FROM carts"))).all()
    assert len(hashes) == 1
    [stored] = hashes
    assert guest_token not in stored
    assert re.fullmatch(r"[0-9a-f]{64}", stored)
    assert stored != hashlib.sha256(guest_token.encode()).hexdigest(), "hash is not keyed"
    assert all(guest_token not in str(value) for row in rows for value in row)
    # Under another key the same token no longer finds the cart: the hash depends on the key.
    async with serve(settings, token_hash_key=secrets.token_hex(32)) as rekeyed:
        response = await rekeyed.get("/v1/cart", headers={"X-Cart-Token": guest_token})
        problem_of(response, 404, "cart_not_found")
    read = await client.get("/v1/cart", headers={"X-Cart-Token": guest_token})
    assert read.status_code == 200, read.text


async def test_guest_token_that_names_no_cart_is_cart_not_found(
    client: httpx.AsyncClient,
) -> None:
    unknown = secrets.token_urlsafe(32)
    response = await client.get("/v1/cart", headers={"X-Cart-Token": unknown})
    problem_of(response, 404, "cart_not_found")


# Settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENV", "JWT_SECRET", "JWT_PUBLIC_KEY", "TOKEN_HASH_KEY"):
        monkeypatch.delenv(f"AIMALL_CART_{name}", raising=False)


@pytest.mark.usefixtures("clean_env")
def test_production_refuses_the_default_secrets() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(env="production", _env_file=None)  # type: ignore[call-arg]


@pytest.mark.usefixtures("clean_env")
def test_production_refuses_the_default_token_hash_key() -> None:
    with pytest.raises(ValidationError, match="TOKEN_HASH_KEY"):
        Settings(
            env="production",
            jwt_secret=secrets.token_hex(32),
            token_hash_key=DEV_TOKEN_HASH_KEY,
            _env_file=None,  # type: ignore[call-arg]
        )


@pytest.mark.usefixtures("clean_env")
def test_production_refuses_a_short_jwt_secret() -> None:
    with pytest.raises(ValidationError, match="32 characters"):
        Settings(
            env="production",
            jwt_secret="short",
            token_hash_key=secrets.token_hex(32),
            _env_file=None,  # type: ignore[call-arg]
        )


@pytest.mark.usefixtures("clean_env")
def test_production_refuses_the_default_data_key() -> None:
    with pytest.raises(ValidationError, match="DATA_KEY"):
        Settings(
            env="production",
            jwt_secret=secrets.token_hex(32),
            token_hash_key=secrets.token_hex(32),
            _env_file=None,  # type: ignore[call-arg]
        )


@pytest.mark.usefixtures("clean_env")
def test_production_starts_with_its_own_secrets() -> None:
    configured = Settings(
        env="production",
        jwt_secret=secrets.token_hex(32),
        token_hash_key=secrets.token_hex(32),
        data_keys=f"k1:{secrets.token_hex(32)}",
        public_base_url="https://shop.aimall.example",
        _env_file=None,  # type: ignore[call-arg]
    )
    assert configured.jwt_secret != DEV_JWT_SECRET


@pytest.mark.usefixtures("clean_env")
def test_development_allows_the_default_secrets() -> None:
    assert Settings(env="development", _env_file=None).jwt_secret == DEV_JWT_SECRET  # type: ignore[call-arg]
