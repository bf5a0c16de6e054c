"""Completing a checkout places one order, whatever the retries and races."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text

from aimall_cart.app import create_app
from aimall_cart.config import Settings
from aimall_cart.db import Database
from tests.builders import bearer, shirt


async def _orders(settings: Settings) -> tuple[int, int]:
    database = Database(settings.database_url)
    try:
        async with database.read_session() as session:
            orders = await session.scalar(text("SELECT count(*) FROM orders"))
            events = await session.scalar(
                text("SELECT count(*) FROM outbox_events WHERE type = 'order.placed'")
            )
    finally:
        await database.dispose()
    return int(orders or 0), int(events or 0)


async def _checked_out_cart(
    client: httpx.AsyncClient, settings: Settings, user: str
) -> dict[str, str]:
    await shirt(client, settings)
    member = bearer(settings, user)
    added = await client.post(
        "/v1/cart/items",
        json={"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 2},
        headers=member,
    )
    assert added.status_code == 201
    assert (await client.post("/v1/cart/checkout", headers=member)).status_code == 201
    return member


async def test_complete_repeated_with_one_idempotency_key_replays_the_one_order(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    member = await _checked_out_cart(client, settings, "u-idem")
    headers = {**member, "Idempotency-Key": "complete-1"}
    first = await client.post("/v1/cart/checkout/complete", json={}, headers=headers)
    again = await client.post("/v1/cart/checkout/complete", json={}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert await _orders(settings) == (1, 1)


async def test_concurrent_completes_of_one_cart_place_one_order(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    member = await _checked_out_cart(client, settings, "u-race-complete")
    answers = await asyncio.gather(
        *(client.post("/v1/cart/checkout/complete", headers=member) for _ in range(10))
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) == 1, statuses
    assert all(a.json()["code"] == "checkout_not_found" for a in answers if a.status_code == 409)
    assert set(statuses) <= {201, 409, 503}
    assert await _orders(settings) == (1, 1)
    stock = (await client.get("/v1/catalog/products/shirt")).json()["variants"]
    red_m = next(v for v in stock if v["variant_id"] == "shirt-red-m")
    assert (red_m["stock"], red_m["available"]) == (8, 8)


async def test_complete_after_the_reservation_lapsed_places_no_order(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    clocked = create_app(settings.model_copy(update={"test_clock": True}))
    transport = httpx.ASGITransport(app=clocked)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as timed:
            member = await _checked_out_cart(timed, settings, "u-lapsed")
            advanced = await timed.post(
                "/v1/admin/clock/advance",
                json={"seconds": settings.reservation_ttl_seconds + 1},
                headers=bearer(settings, "root", "admin"),
            )
            assert advanced.status_code == 200
            late = await timed.post("/v1/cart/checkout/complete", headers=member)
            assert (late.status_code, late.json()["code"]) == (409, "checkout_expired")
            assert await _orders(settings) == (0, 0)
    finally:
        await clocked.state.database.dispose()
