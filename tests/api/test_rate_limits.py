"""Rate limits per caller (429 ``rate_limited`` with ``Retry-After``) and the hoarding guard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from aimall_cart.app import create_app
from aimall_cart.config import Settings
from aimall_cart.db import Database
from tests.answers import cart_of, problem_of
from tests.builders import admin, bearer, shirt

ITEMS = "/v1/cart/items"
LIMITS = {
    "rate_limit_enabled": True,
    "rate_limit_anonymous_per_minute": 3,
    "rate_limit_guest_per_minute": 4,
    "rate_limit_member_per_minute": 5,
    "rate_limit_checkout_per_minute": 2,
}


@asynccontextmanager
async def serve(settings: Settings, **update: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update=LIMITS | update))
    database: Database = app.state.database
    try:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://cart.test") as client:
            yield client
    finally:
        await database.dispose()


def assert_limited(response: httpx.Response) -> None:
    problem_of(response, 429, "rate_limited")
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.headers["X-Request-ID"]


async def test_an_anonymous_address_is_limited_per_minute(settings: Settings) -> None:
    async with serve(settings) as client:
        for _ in range(3):
            assert (await client.get("/v1/catalog/products")).status_code == 200
        assert_limited(await client.get("/v1/catalog/products"))
        assert_limited(await client.post("/v1/cart"))
        assert (await client.get("/healthz")).status_code == 200


async def test_each_kind_of_caller_counts_alone_and_admins_are_not_limited(
    settings: Settings,
) -> None:
    async with serve(settings) as client:
        guest = {"X-Cart-Token": (await client.post("/v1/cart")).headers["X-Cart-Token"]}
        member = bearer(settings, "u-1")
        answers = [(await client.get("/v1/cart", headers=guest)).status_code for _ in range(5)]
        assert answers == [200, 200, 200, 200, 429]
        answers = [(await client.get("/v1/cart", headers=member)).status_code for _ in range(6)]
        assert answers == [404] * 5 + [429]
        other = bearer(settings, "u-2")
        problem_of(await client.get("/v1/cart", headers=other), 404, "cart_not_found")
        for _ in range(10):
            response = await client.get("/v1/admin/recovery/policy", headers=admin(settings))
            assert response.status_code == 200


async def test_switched_off_nothing_is_limited(settings: Settings) -> None:
    async with serve(settings, rate_limit_enabled=False) as client:
        for _ in range(10):
            assert (await client.get("/v1/catalog/products")).status_code == 200


async def test_checkout_starts_are_limited_per_address_whatever_the_guest_token(
    settings: Settings,
) -> None:
    async with serve(settings, rate_limit_guest_per_minute=100) as client:
        await shirt(client, settings)
        answers = []
        for _ in range(3):
            guest = {"X-Cart-Token": (await client.post("/v1/cart")).headers["X-Cart-Token"]}
            item = {"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 1}
            cart_of(await client.post(ITEMS, json=item, headers=guest), 201)
            answers.append(await client.post("/v1/cart/checkout", json={}, headers=guest))
        assert [a.status_code for a in answers[:2]] == [201, 201]
        assert_limited(answers[2])


async def test_a_few_guests_cannot_hold_a_products_whole_stock(settings: Settings) -> None:
    """Five guests each add 5 of 25 units and start checkout: the cap and the checkout limit
    leave units for the member who comes next."""
    update = {"rate_limit_anonymous_per_minute": 100, "rate_limit_guest_per_minute": 100}
    async with serve(settings, max_reserved_units_per_variant=4, **update) as client:
        await shirt(client, settings, stock=25)
        item = {"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 5}
        for _ in range(5):
            added = await client.post(ITEMS, json=item)
            guest = {"X-Cart-Token": added.headers["X-Cart-Token"]}
            started = await client.post("/v1/cart/checkout", json={}, headers=guest)
            if started.status_code == 409:
                [line] = problem_of(started, 409, "checkout_blocked")["errors"]
                assert (line["code"], line["max_quantity"]) == ("reservation_limit", 4)
            else:
                assert_limited(started)
        member = bearer(settings, "u-1")
        cart_of(await client.post(ITEMS, json=item | {"quantity": 4}, headers=member), 201)
        started = await client.post("/v1/cart/checkout", json={}, headers=member)
        assert started.status_code == 201, started.text


@pytest.mark.parametrize("quantity", [4, 3])
async def test_a_cart_within_the_cap_checks_out(settings: Settings, quantity: int) -> None:
    async with serve(settings, max_reserved_units_per_variant=4) as client:
        await shirt(client, settings)
        member = bearer(settings, "u-1")
        item = {"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": quantity}
        cart_of(await client.post(ITEMS, json=item, headers=member), 201)
        started = await client.post("/v1/cart/checkout", json={}, headers=member)
        assert started.status_code == 201, started.text


async def test_unreachable_shared_counters_let_requests_through(settings: Settings) -> None:
    async with serve(settings, redis_url="redis://127.0.0.1:1/0") as client:
        for _ in range(5):
            assert (await client.get("/v1/catalog/products")).status_code == 200
