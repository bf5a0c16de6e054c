"""The holes a security review found, each shut at its mechanism: one test per way in."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import FastAPI
from pydantic import ValidationError
from typer.testing import CliRunner

from aimall_cart import cli
from aimall_cart.app import create_app
from aimall_cart.config import Settings, get_settings
from aimall_cart.db import Database
from aimall_cart.privacy import service as privacy
from tests.answers import cart_of, problem_of
from tests.builders import admin, make_product, make_variant, put_product, shirt

ITEMS = "/v1/cart/items"
RED_M = {"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 2}


@asynccontextmanager
async def serve(settings: Settings, **update: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update=update))
    database: Database = app.state.database
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://cart.test") as client:
            yield client
    finally:
        await database.dispose()


def claims(**extra: Any) -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    return {"sub": "u-1", "role": "customer", "iat": now, "exp": now + 3600} | extra


def signed(settings: Settings, **extra: Any) -> dict[str, str]:
    return {"Authorization": "Bearer " + jwt.encode(claims(**extra), settings.jwt_secret, "HS256")}


# 1. Anonymous idempotency never replays another caller's response


async def test_two_anonymous_callers_with_one_key_never_share_a_cart_or_token(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    key = {"Idempotency-Key": "same-key"}
    first = await client.post(ITEMS, json=RED_M, headers=key)
    second = await client.post(ITEMS, json=RED_M, headers=key)
    one, other = cart_of(first, 201), cart_of(second, 201)
    assert "Idempotent-Replayed" not in second.headers
    assert first.headers["X-Cart-Token"] != second.headers["X-Cart-Token"]
    assert one["id"] != other["id"]
    assert one["guest_token"] not in second.text


# 5. Reading the unsubscribe link changes nothing


async def test_following_the_unsubscribe_link_shows_a_button_and_keeps_consent(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    body = {"marketing_consent": True, "email": "ann@mail.example.com"}
    assert (await client.put("/v1/me/preferences", json=body, headers=member)).status_code == 200
    url = privacy.unsubscribe_url("http://cart.test", settings.keys, "u-1")
    page = await client.get(url)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert '<form method="post"' in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    consent = await client.get("/v1/me/preferences", headers=member)
    assert consent.json()["marketing_consent"] is True
    assert (await client.post(url)).json() == {"unsubscribed": True}
    consent = await client.get("/v1/me/preferences", headers=member)
    assert consent.json()["marketing_consent"] is False


# 6. Reachable 500s become 4xx, and every answer carries X-Request-ID


@pytest.mark.parametrize("since", ["2020-01-01T00:00:00", "2020-01-01"])
async def test_a_time_without_an_offset_is_a_validation_error(
    client: httpx.AsyncClient, settings: Settings, since: str
) -> None:
    response = await client.get(
        "/v1/admin/notifications", params={"since": since}, headers=admin(settings)
    )
    problem_of(response, 422, "validation_error")
    assert response.headers["X-Request-ID"]


@pytest.mark.parametrize(
    "bad",
    [
        {"role": ["admin"]},
        {"role": {"admin": True}},
        {"sub": ["u-1"]},
        {"role": "seller", "seller_id": ["s-1"]},
        {"aud": 7},
    ],
)
async def test_malformed_claims_in_a_valid_signature_are_unauthenticated(
    client: httpx.AsyncClient, settings: Settings, bad: dict[str, Any]
) -> None:
    headers = signed(settings, **bad)
    for response in (
        await client.get("/v1/cart", headers=headers),
        await client.post("/v1/cart", headers={**headers, "Idempotency-Key": "k"}),
    ):
        problem_of(response, 401, "unauthenticated")
        assert response.headers["X-Request-ID"]


async def test_deeply_nested_json_is_a_client_error_with_or_without_a_key(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    deep = b"[" * 30_000
    member = signed(settings)
    for headers in ({}, {"Idempotency-Key": "deep"}, {**member, "Idempotency-Key": "deep"}):
        response = await client.post(
            ITEMS, content=deep, headers={**headers, "Content-Type": "application/json"}
        )
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["X-Request-ID"]


async def test_an_unexpected_error_is_a_problem_with_the_request_id(settings: Settings) -> None:
    async with serve(settings) as client:
        app: FastAPI = client._transport.app  # type: ignore[attr-defined]

        @app.get("/boom")
        async def boom() -> None:
            raise RuntimeError("boom")

        response = await client.get("/boom", headers={"X-Request-ID": "trace-1"})
    problem_of(response, 500, "internal")
    assert response.headers["X-Request-ID"] == "trace-1"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# 7. Only web addresses as thumbnails; names stay on one line


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox",
        "//evil.example/x.png",
        "https://",
        "https://img.example/a b.png",
        "/relative.png",
    ],
)
async def test_a_thumbnail_that_is_not_an_http_url_is_refused(
    client: httpx.AsyncClient, settings: Settings, url: str
) -> None:
    body = make_product(make_variant("v-1")) | {"thumbnail_url": url}
    response = await client.put("/v1/catalog/products/p-1", json=body, headers=admin(settings))
    problem_of(response, 422, "validation_error")


@pytest.mark.parametrize(
    "name",
    [
        "Shirt\r\nBcc: all@example.com",
        "Shirt\nline two",
        "Shirt\u2028two",
        "Tab\there",
        "Shirt \u202egnp.exe",
    ],
)
async def test_a_product_name_with_a_line_break_or_a_direction_override_is_refused(
    client: httpx.AsyncClient, settings: Settings, name: str
) -> None:
    body = make_product(make_variant("v-1"), name=name)
    response = await client.put("/v1/catalog/products/p-1", json=body, headers=admin(settings))
    problem_of(response, 422, "validation_error")


async def test_an_https_thumbnail_and_a_plain_name_are_kept(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    body = make_product(make_variant("v-1"), name="Linen Shirt\u00a0blue")
    saved = await put_product(client, settings, "p-1", body)
    assert (saved["name"], saved["thumbnail_url"]) == (
        "Linen Shirt\u00a0blue",
        body["thumbnail_url"],
    )


# 8. Transport headers and header size


async def test_every_response_says_nosniff_and_cart_answers_are_not_stored(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    created = await client.post(ITEMS, json=RED_M)
    assert created.headers["Cache-Control"] == "no-store"
    refused = await client.get("/v1/cart", headers={"X-Cart-Token": "nope"})
    for response in (created, refused, await client.get("/healthz")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in created.headers


async def test_https_answers_carry_strict_transport_security(
    app: FastAPI, settings: Settings
) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://cart.test") as client:
        response = await client.get("/healthz")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


async def test_a_megabyte_of_headers_is_refused_before_anything_runs(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/cart", headers={"Authorization": "Bearer " + "a" * 1_000_000})
    problem_of(response, 431, "headers_too_large")
    assert response.headers["X-Request-ID"]


# 9. JWT audience, issuer, lifetime and key size


async def test_a_token_for_another_audience_is_refused_even_without_an_audience_set(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    for aud in ("billing", ["billing"]):
        problem_of(
            await client.get("/v1/cart", headers=signed(settings, aud=aud)), 401, "unauthenticated"
        )


async def test_the_issuer_is_checked_when_configured(settings: Settings) -> None:
    async with serve(settings, jwt_issuer="https://id.aimall.example") as client:
        for headers in (signed(settings), signed(settings, iss="https://evil.example")):
            problem_of(await client.get("/v1/cart", headers=headers), 401, "unauthenticated")
        right = signed(settings, iss="https://id.aimall.example")
        problem_of(await client.get("/v1/cart", headers=right), 404, "cart_not_found")


async def test_a_token_living_longer_than_the_cap_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    now = int(datetime.now(UTC).timestamp())
    year = int(timedelta(days=365).total_seconds())
    for headers in (
        signed(settings, exp=now + year),
        signed(settings, iat=now - 60, exp=now + year),
        signed(settings, iat=now + year, exp=now + year + 60),
    ):
        problem_of(await client.get("/v1/cart", headers=headers), 401, "unauthenticated")


def _rsa_pem(bits: int) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


async def test_an_rsa_key_under_2048_bits_is_refused_at_start(settings: Settings) -> None:
    with pytest.raises(ValueError, match="2048"):
        create_app(settings.model_copy(update={"jwt_public_key": _rsa_pem(1024)}))


# 10. Production refuses weak keys and plain web addresses, and never prints a secret


def _production(**update: Any) -> dict[str, Any]:
    return {
        "env": "production",
        "jwt_secret": secrets.token_hex(32),
        "token_hash_key": secrets.token_hex(32),
        "data_keys": f"k1:{secrets.token_hex(32)}",
        "public_base_url": "https://shop.aimall.example",
        "_env_file": None,
    } | update


@pytest.mark.parametrize(
    ("update", "named"),
    [
        ({"token_hash_key": "k"}, "TOKEN_HASH_KEY"),
        ({"data_keys": "k1:" + "k" * 31}, "DATA_KEYS"),
        ({"jwt_secret": "s" * 31}, "JWT_SECRET"),
        ({"order_webhook_url": "https://o.example", "order_webhook_secret": "w"}, "ORDER_WEBHOOK"),
        ({"public_base_url": "http://shop.aimall.example"}, "PUBLIC_BASE_URL"),
        ({"public_base_url": "https://localhost:8000"}, "PUBLIC_BASE_URL"),
        ({"public_base_url": "https://127.0.0.1"}, "PUBLIC_BASE_URL"),
        ({"order_webhook_url": "http://orders.example/hook"}, "ORDER_WEBHOOK_URL"),
        ({"recovery_webhook_url": "http://crm.example/hook"}, "RECOVERY_WEBHOOK_URL"),
    ],
)
def test_production_refuses_weak_keys_and_plain_addresses(
    database_url: str, update: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValidationError, match=named):
        Settings(**_production(database_url=database_url, **update))


def test_a_refusal_never_prints_any_part_of_a_secret(database_url: str) -> None:
    weak, kept = secrets.token_hex(10), secrets.token_hex(20)
    with pytest.raises(ValidationError) as refused:
        Settings(**_production(database_url=database_url, jwt_secret=weak, token_hash_key=kept))
    for secret in (weak, kept):
        assert_no_part_of(secret, str(refused.value))


def assert_no_part_of(secret: str, shown: str) -> None:
    assert shown
    for start in range(len(secret) - 5):
        assert secret[start : start + 6] not in shown


def test_the_command_refuses_to_start_without_printing_the_secret(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = secrets.token_hex(10)
    for name, value in _production(database_url=database_url, jwt_secret=secret).items():
        if not name.startswith("_"):
            monkeypatch.setenv(f"AIMALL_CART_{name.upper()}", value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.app, ["serve"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "AIMALL_CART_JWT_SECRET must be at least 32 characters" in result.output
    assert_no_part_of(secret, result.output)


def test_production_starts_with_strong_keys_and_https(database_url: str) -> None:
    settings = Settings(**_production(database_url=database_url))
    assert settings.public_base_url.startswith("https://")
