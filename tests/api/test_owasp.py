"""The OWASP API Security Top 10 (2023), walked over every route as every kind of caller.

API1 broken object level authorization: another caller's cart line, order or product is 404.
API2 broken authentication: forged, stale, over-long, foreign and malformed tokens are 401 on
     every route that reads credentials.
API3 broken object property level authorization: fields a caller may not set are refused.
API4 unrestricted resource consumption: body, header, page and rate limits.
API5 broken function level authorization: every route's answer to every role (the table below
     must name every operation the app serves, so a new route cannot skip this).
API6 unrestricted access to sensitive business flows: checkout starts and reservations are capped.
API7 server-side request forgery: no caller-supplied URL is fetched; thumbnails are http(s) only.
API8 security misconfiguration: headers on every answer, no CORS, no tracebacks.
API9 improper inventory management: the documented routes are the routes; the test clock is off.
API10 unsafe consumption of APIs: the service calls out only to configured, signed webhooks.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from aimall_cart.app import create_app
from aimall_cart.config import Settings
from aimall_cart.db import Database
from aimall_cart.privacy import service as privacy
from tests.answers import cart_of, problem_of
from tests.builders import admin, bearer, make_product, make_variant, shirt

ANYONE = "anyone"  # carts, the public catalog, unsubscribe, probes
MEMBER = "member"  # a signed-in caller of any role
SELLER = "seller"  # sellers and admins
ADMIN = "admin"
OWNER = "owner"  # the order's own customer, or an admin
HOLDER = "holder"  # a signed-in caller, or a guest by the cart token they hold
HIDDEN = "hidden"  # not served without the test clock
CALLERS = ("anonymous", "guest", "customer", "seller", "admin")

# Who may call each operation: API5's table.
ACCESS: dict[str, str] = {
    "GET /v1/cart": ANYONE,
    "POST /v1/cart": ANYONE,
    "POST /v1/cart/items": ANYONE,
    "DELETE /v1/cart/items": ANYONE,
    "PATCH /v1/cart/items/{item_id}": ANYONE,
    "DELETE /v1/cart/items/{item_id}": ANYONE,
    "POST /v1/cart/discount": ANYONE,
    "DELETE /v1/cart/discount": ANYONE,
    "POST /v1/cart/merge": MEMBER,
    "POST /v1/cart/checkout": ANYONE,
    "GET /v1/cart/checkout": ANYONE,
    "DELETE /v1/cart/checkout": ANYONE,
    "POST /v1/cart/checkout/complete": ANYONE,
    "GET /v1/orders/{order_id}": OWNER,
    "PUT /v1/catalog/products/{product_id}": SELLER,
    "GET /v1/catalog/products/{product_id}": ANYONE,
    "PATCH /v1/catalog/variants/{variant_id}": SELLER,
    "GET /v1/catalog/products": ANYONE,
    "GET /v1/me/preferences": MEMBER,
    "PUT /v1/me/preferences": MEMBER,
    "GET /v1/unsubscribe": ANYONE,
    "POST /v1/unsubscribe": ANYONE,
    "GET /v1/admin/recovery/policy": ADMIN,
    "PUT /v1/admin/recovery/policy": ADMIN,
    "POST /v1/admin/recovery/run": ADMIN,
    "GET /v1/admin/notifications": ADMIN,
    "GET /v1/admin/recovery/report": ADMIN,
    "GET /v1/me/notifications": MEMBER,
    "GET /healthz": ANYONE,
    "GET /readyz": ANYONE,
    "GET /v1/admin/clock": HIDDEN,
    "POST /v1/admin/clock/advance": HIDDEN,
    "GET /v1/seller/analytics": SELLER,
    "GET /v1/admin/analytics": ADMIN,
    "POST /v1/admin/analytics/refresh": ADMIN,
    "GET /v1/admin/health": ADMIN,
    "GET /metrics": ANYONE,
    "GET /v1/me/data": HOLDER,
    "DELETE /v1/me/data": HOLDER,  # last: it erases the caller's data
}


@dataclass(frozen=True)
class World:
    """Two of everything, so that each caller has someone else's things to reach for."""

    headers: dict[str, dict[str, str]]
    item_id: str  # a line in the guest's cart
    order_id: str  # the customer's order
    unsubscribe_token: str


async def _world(client: httpx.AsyncClient, settings: Settings) -> World:
    await shirt(client, settings)
    item = {"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 1}
    guest_cart = await client.post("/v1/cart/items", json=item)
    customer = bearer(settings, "customer-1")
    cart_of(await client.post("/v1/cart/items", json=item, headers=customer), 201)
    assert (await client.post("/v1/cart/checkout", json={}, headers=customer)).status_code == 201
    order = await client.post("/v1/cart/checkout/complete", json={}, headers=customer)
    assert order.status_code == 201, order.text
    return World(
        headers={
            "anonymous": {},
            "guest": {"X-Cart-Token": guest_cart.headers["X-Cart-Token"]},
            "customer": customer,
            "seller": bearer(settings, "seller-user-1", "seller", seller_id="seller-1"),
            "admin": admin(settings),
        },
        item_id=guest_cart.json()["items"][0]["id"],
        order_id=order.json()["id"],
        unsubscribe_token=privacy.unsubscribe_token(settings.keys, "customer-1"),
    )


def _request(operation: str, world: World) -> tuple[str, str, dict[str, Any]]:
    """A plausible request for the operation: real ids, and a body that passes validation."""
    method, path = operation.split(" ", 1)
    path = path.format(
        item_id=world.item_id,
        order_id=world.order_id,
        product_id="shirt",
        variant_id="shirt-red-m",
    )
    bodies: dict[str, Any] = {
        "POST /v1/cart/items": {"product_id": "shirt", "variant_id": "shirt-blue-m", "quantity": 1},
        "PATCH /v1/cart/items/{item_id}": {"quantity": 2},
        "POST /v1/cart/discount": {"code": "NOPE"},
        "POST /v1/cart/merge": {},
        "POST /v1/cart/checkout": {},
        "POST /v1/cart/checkout/complete": {},
        "PUT /v1/catalog/products/{product_id}": make_product(
            make_variant("shirt-red-m", color="red", size="M"), seller_id=None
        ),
        "PATCH /v1/catalog/variants/{variant_id}": {"stock": 5},
        "PUT /v1/me/preferences": {"marketing_consent": False},
        "PUT /v1/admin/recovery/policy": {},
        "POST /v1/admin/clock/advance": {"seconds": 1},
    }
    kwargs: dict[str, Any] = {}
    if operation in bodies:
        kwargs["json"] = bodies[operation]
    if path == "/v1/unsubscribe":
        kwargs["params"] = {"token": world.unsubscribe_token}
    return method, path, kwargs


def _expected_refusal(access: str, caller: str) -> tuple[int, str] | None:
    """The refusal a caller must get, or None where the caller may go on."""
    signed_in = caller in ("customer", "seller", "admin")
    if access == HIDDEN:
        return 404, "not_found"
    if access == HOLDER and caller == "anonymous":
        return 401, "unauthenticated"
    if access == OWNER and caller not in ("customer", "admin"):  # its existence is not revealed
        return 404, "order_not_found"
    if access in (MEMBER, SELLER, ADMIN) and not signed_in:
        return 401, "unauthenticated"
    if access == SELLER and caller == "customer":
        return 403, "forbidden"
    if access == ADMIN and caller in ("customer", "seller"):
        return 403, "forbidden"
    return None


@pytest.fixture
async def limited_app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings.model_copy(update={"rate_limit_enabled": True}))
    yield app
    database: Database = app.state.database
    await database.dispose()


async def test_api9_every_served_operation_is_in_the_access_table(app: FastAPI) -> None:
    served = {f"{m.upper()} {p}" for p, ops in app.openapi()["paths"].items() for m in ops}
    assert served == set(ACCESS)


@pytest.mark.parametrize("caller", CALLERS)
async def test_api5_every_route_answers_each_role_as_the_table_says(
    client: httpx.AsyncClient, settings: Settings, caller: str
) -> None:
    world = await _world(client, settings)
    for operation, access in ACCESS.items():
        method, path, kwargs = _request(operation, world)
        response = await client.request(method, path, headers=world.headers[caller], **kwargs)
        refusal = _expected_refusal(access, caller)
        where = f"{operation} as {caller}: {response.status_code} {response.text[:200]}"
        if refusal is not None:
            assert (response.status_code, response.json().get("code")) == refusal, where
        else:
            assert response.status_code not in (401, 403), where
            assert response.status_code < 500, where
        assert response.headers["X-Content-Type-Options"] == "nosniff", where
        assert response.headers["X-Request-ID"], where
        assert "access-control-allow-origin" not in response.headers, where


def _forged_tokens(settings: Settings) -> dict[str, str]:
    now = int(datetime.now(UTC).timestamp())
    claims = {"sub": "admin-1", "role": "admin", "iat": now, "exp": now + 600}
    secret = settings.jwt_secret

    def none_alg(payload: dict[str, Any]) -> str:
        def part(value: dict[str, Any]) -> str:
            return jwt.utils.base64url_encode(json.dumps(value).encode()).decode()

        return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."

    return {
        "alg none": none_alg(claims),
        "wrong secret": jwt.encode(claims, "not-the-secret-" * 4, "HS256"),
        "expired": jwt.encode(claims | {"exp": now - 120}, secret, "HS256"),
        "lives a year": jwt.encode(claims | {"exp": now + 365 * 86400}, secret, "HS256"),
        "issued in the future": jwt.encode(claims | {"iat": now + 3600}, secret, "HS256"),
        "foreign audience": jwt.encode(claims | {"aud": "billing"}, secret, "HS256"),
        "role as a list": jwt.encode(claims | {"role": ["admin"]}, secret, "HS256"),
        "unknown role": jwt.encode(claims | {"role": "root"}, secret, "HS256"),
        "no subject": jwt.encode({k: v for k, v in claims.items() if k != "sub"}, secret, "HS256"),
        "tampered": jwt.encode(claims | {"role": "customer"}, secret, "HS256")[:-4] + "AAAA",
    }


# Routes that read no credentials at all: a token there changes nothing, forged or not.
CREDENTIAL_FREE = {
    "GET /healthz",
    "GET /metrics",
    "GET /readyz",
    "GET /v1/catalog/products",
    "GET /v1/catalog/products/{product_id}",
    "GET /v1/unsubscribe",
    "POST /v1/unsubscribe",
}


async def test_api2_forged_tokens_are_refused_on_every_route_that_reads_them(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    world = await _world(client, settings)
    for name, token in _forged_tokens(settings).items():
        for operation, access in ACCESS.items():
            if operation in CREDENTIAL_FREE or access == HIDDEN:
                continue
            method, path, kwargs = _request(operation, world)
            headers = {"Authorization": f"Bearer {token}"}
            response = await client.request(method, path, headers=headers, **kwargs)
            assert response.status_code == 401, f"{operation}, token {name}: {response.text}"
            problem_of(response, 401, "unauthenticated")


async def test_api1_no_caller_reaches_another_callers_objects(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    world = await _world(client, settings)
    other_customer = bearer(settings, "customer-2")
    other_guest = {"X-Cart-Token": (await client.post("/v1/cart")).headers["X-Cart-Token"]}
    item = f"/v1/cart/items/{world.item_id}"
    for headers in (other_guest, other_customer, world.headers["customer"]):
        for response in (
            await client.patch(item, json={"quantity": 3}, headers=headers),
            await client.delete(item, headers=headers),
        ):
            assert response.status_code == 404, response.text
            assert response.json()["code"] in ("item_not_found", "cart_not_found")
    guest_cart = cart_of(await client.get("/v1/cart", headers=world.headers["guest"]))
    assert [line["quantity"] for line in guest_cart["items"]] == [1]
    order = f"/v1/orders/{world.order_id}"
    for headers in (other_customer, world.headers["guest"], world.headers["seller"]):
        response = await client.get(order, headers=headers)
        assert response.status_code in (401, 404), response.text
    assert (await client.get(order, headers=world.headers["customer"])).status_code == 200
    other_seller = bearer(settings, "seller-user-2", "seller", seller_id="seller-2")
    patch = await client.patch(
        "/v1/catalog/variants/shirt-red-m", json={"stock": 0}, headers=other_seller
    )
    problem_of(patch, 404, "variant_not_found")
    theirs = make_product(make_variant("v-x"), seller_id=None)
    took = await client.put("/v1/catalog/products/shirt", json=theirs, headers=other_seller)
    assert took.status_code in (403, 404), took.text
    assert (await client.get("/v1/catalog/products/shirt")).json()["seller_id"] == "seller-1"


@pytest.mark.parametrize(
    ("operation", "body", "caller"),
    [
        ("POST /v1/cart/items", {"unit_price": 1, "quantity": 1}, "anonymous"),
        ("POST /v1/cart/items", {"discount": 1999, "quantity": 1}, "guest"),
        ("PATCH /v1/cart/items/{item_id}", {"unit_price": 1}, "guest"),
        ("POST /v1/cart/checkout", {"total": 0}, "guest"),
        ("PUT /v1/me/preferences", {"consent_updated_at": "2020-01-01T00:00:00Z"}, "customer"),
        ("PUT /v1/me/preferences", {"user_id": "customer-2"}, "customer"),
        ("PATCH /v1/catalog/variants/{variant_id}", {"reserved": 0}, "seller"),
        ("PUT /v1/admin/recovery/policy", {"version": "x", "secret": 1}, "admin"),
    ],
)
async def test_api3_properties_a_caller_may_not_set_are_refused(
    client: httpx.AsyncClient, settings: Settings, operation: str, body: dict[str, Any], caller: str
) -> None:
    world = await _world(client, settings)
    method, path, _ = _request(operation, world)
    if operation == "POST /v1/cart/items":
        body = {"product_id": "shirt", "variant_id": "shirt-blue-m"} | body
    response = await client.request(method, path, json=body, headers=world.headers[caller])
    problem_of(response, 422, "validation_error")


async def test_api3_a_seller_cannot_hand_a_product_to_another_seller(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    world = await _world(client, settings)
    body = make_product(make_variant("shirt-red-m", color="red", size="M"), seller_id="seller-2")
    response = await client.put(
        "/v1/catalog/products/shirt", json=body, headers=world.headers["seller"]
    )
    problem_of(response, 403, "forbidden")


async def test_api4_bodies_headers_pages_and_nesting_are_bounded(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    huge = {"product_id": "shirt", "quantity": 1, "options": {"x": "y" * 70_000}}
    problem_of(await client.post("/v1/cart/items", json=huge), 413, "payload_too_large")
    long_header = {"X-Cart-Token": "t" * 20_000}
    problem_of(await client.get("/v1/cart", headers=long_header), 431, "headers_too_large")
    page = await client.get(
        "/v1/admin/notifications", params={"limit": 10_001}, headers=admin(settings)
    )
    problem_of(page, 422, "validation_error")
    nested = b"[" * 30_000
    deep = await client.post(
        "/v1/cart/items", content=nested, headers={"Content-Type": "application/json"}
    )
    assert 400 <= deep.status_code < 500


async def test_api4_every_kind_of_caller_meets_a_rate_limit_but_admins(
    limited_app: FastAPI, settings: Settings
) -> None:
    limits = limited_app.state.settings
    transport = httpx.ASGITransport(app=limited_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cart.test") as client:
        answers = [
            (await client.get("/v1/catalog/products")).status_code
            for _ in range(limits.rate_limit_anonymous_per_minute + 1)
        ]
        assert answers[-1] == 429
        assert set(answers[:-1]) == {200}
        for _ in range(limits.rate_limit_anonymous_per_minute + 1):
            response = await client.get("/v1/admin/recovery/policy", headers=admin(settings))
            assert response.status_code == 200


async def test_api6_checkout_holds_are_capped_per_cart(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"max_reserved_units_per_variant": 3}))
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cart.test") as client:
            await shirt(client, settings, stock=100)
            item = {"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 4}
            guest = {
                "X-Cart-Token": (await client.post("/v1/cart/items", json=item)).headers[
                    "X-Cart-Token"
                ]
            }
            blocked = await client.post("/v1/cart/checkout", json={}, headers=guest)
            [line] = problem_of(blocked, 409, "checkout_blocked")["errors"]
            assert line["code"] == "reservation_limit"
    finally:
        await app.state.database.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        "data:image/svg+xml,<svg/onload=alert(1)>",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_FLUSHALL",
    ],
)
async def test_api7_no_url_but_http_is_stored_for_anyone_to_follow(
    client: httpx.AsyncClient, settings: Settings, url: str
) -> None:
    body = make_product(make_variant("v-1")) | {"thumbnail_url": url}
    response = await client.put("/v1/catalog/products/p-1", json=body, headers=admin(settings))
    problem_of(response, 422, "validation_error")


async def test_api8_errors_carry_no_traceback_and_no_cors_is_offered(
    client: httpx.AsyncClient,
) -> None:
    preflight = await client.options(
        "/v1/cart",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    broken = await client.post(
        "/v1/cart/items", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code in (400, 422)
    assert "Traceback" not in broken.text
    assert 'File "' not in broken.text


async def test_api9_the_test_clock_is_not_served_without_its_setting(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    for response in (
        await client.get("/v1/admin/clock", headers=admin(settings)),
        await client.post("/v1/admin/clock/advance", json={"seconds": 60}, headers=admin(settings)),
    ):
        assert response.status_code == 404


async def test_api10_outbound_calls_go_only_to_configured_https_webhooks(
    database_url: str,
) -> None:
    with pytest.raises(ValueError, match="ORDER_WEBHOOK_URL"):
        Settings(  # type: ignore[call-arg]
            env="production",
            database_url=database_url,
            jwt_secret="j" * 40,
            token_hash_key="t" * 40,
            data_keys="k1:" + "d" * 40,
            public_base_url="https://shop.aimall.example",
            order_webhook_url="http://orders.internal/hook",
            order_webhook_secret="w" * 40,
            _env_file=None,
        )
