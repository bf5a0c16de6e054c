"""Reservations that run out: the admin test clock, what a lapsed checkout gives back at once,
and the worker's sweep that records it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from aimall_cart.carts.models import Cart
from aimall_cart.checkout import service as checkout_service
from aimall_cart.checkout.models import Checkout
from aimall_cart.config import Settings
from aimall_cart.inventory.models import Inventory, Reservation
from tests.answers import advance, problem_of, stock_of
from tests.builders import admin, bearer, shirt


async def add(
    client: httpx.AsyncClient, headers: dict[str, str], variant_id: str, quantity: int = 1
) -> httpx.Response:
    return await client.post(
        "/v1/cart/items",
        json={"product_id": "shirt", "variant_id": variant_id, "quantity": quantity},
        headers=headers,
    )


async def start(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.post("/v1/cart/checkout", headers=headers)
    assert response.status_code == 201, response.text
    checkout: dict[str, Any] = response.json()
    return checkout


async def test_admins_read_and_advance_the_test_clock(
    clocked: httpx.AsyncClient, settings: Settings
) -> None:
    first = await clocked.get("/v1/admin/clock", headers=admin(settings))
    assert first.status_code == 200, first.text
    assert first.json()["offset_seconds"] == 0

    assert (await advance(clocked, settings, 3600))["offset_seconds"] == 3600
    assert (await advance(clocked, settings, 60))["offset_seconds"] == 3660

    read = (await clocked.get("/v1/admin/clock", headers=admin(settings))).json()
    assert read["offset_seconds"] == 3660
    gained = datetime.fromisoformat(read["now"]) - datetime.fromisoformat(first.json()["now"])
    assert timedelta(seconds=3660) <= gained < timedelta(seconds=3720)


async def test_the_test_clock_is_for_admins_and_only_moves_forward(
    clocked: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    moves = [({}, {"seconds": 60}, 401), (member, {"seconds": 60}, 403)]
    moves += [(admin(settings), {"seconds": s}, 422) for s in (0, -30)]
    for headers, body, status in moves:
        moved = await clocked.post("/v1/admin/clock/advance", json=body, headers=headers)
        assert moved.status_code == status, moved.text
    problem_of(await clocked.get("/v1/admin/clock"), 401, "unauthenticated")
    problem_of(await clocked.get("/v1/admin/clock", headers=member), 403, "forbidden")
    clock = (await clocked.get("/v1/admin/clock", headers=admin(settings))).json()
    assert clock["offset_seconds"] == 0


async def test_the_test_clock_does_not_exist_without_the_setting(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    problem_of(await client.get("/v1/admin/clock", headers=admin(settings)), 404, "not_found")
    body, headers = {"seconds": 60}, admin(settings)
    advanced = await client.post("/v1/admin/clock/advance", json=body, headers=headers)
    assert advanced.status_code == 404, advanced.text


async def test_a_lapsed_reservation_frees_the_stock_and_unlocks_the_cart_at_once(
    clocked: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(clocked, settings, stock=10)
    await add(clocked, member, "shirt-red-m", 4)
    await start(clocked, member)
    assert await stock_of(clocked, "shirt-red-m") == (10, 6)

    await advance(clocked, settings, settings.reservation_ttl_seconds + 1)

    assert await stock_of(clocked, "shirt-red-m") == (10, 10)
    assert (await clocked.get("/v1/cart", headers=member)).json()["status"] == "active"
    problem_of(await clocked.get("/v1/cart/checkout", headers=member), 404, "checkout_not_found")
    completed = await clocked.post("/v1/cart/checkout/complete", headers=member)
    problem_of(completed, 409, "checkout_expired")
    assert await stock_of(clocked, "shirt-red-m") == (10, 10)


async def test_a_checkout_completes_until_its_reservation_lapses(
    clocked: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(clocked, settings, stock=10)
    await add(clocked, member, "shirt-red-m", 4)
    await start(clocked, member)

    await advance(clocked, settings, settings.reservation_ttl_seconds - 60)

    assert await stock_of(clocked, "shirt-red-m") == (10, 6)
    problem_of(await add(clocked, member, "shirt-red-l"), 409, "cart_locked")
    assert (await clocked.get("/v1/cart/checkout", headers=member)).status_code == 200
    completed = await clocked.post("/v1/cart/checkout/complete", headers=member)
    assert completed.status_code == 201, completed.text
    assert await stock_of(clocked, "shirt-red-m") == (6, 6)


async def test_after_a_lapse_the_cart_changes_and_checks_out_again_reserving_once(
    clocked: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(clocked, settings, stock=10)
    cart = (await add(clocked, member, "shirt-red-m", 8)).json()
    lapsed = await start(clocked, member)
    await advance(clocked, settings, settings.reservation_ttl_seconds + 1)

    changed = await clocked.patch(
        f"/v1/cart/items/{cart['items'][0]['id']}", json={"quantity": 10}, headers=member
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "active"
    again = await start(clocked, member)

    assert again["id"] != lapsed["id"]
    assert datetime.fromisoformat(again["expires_at"]) > datetime.fromisoformat(
        lapsed["expires_at"]
    )
    assert await stock_of(clocked, "shirt-red-m") == (10, 0)
    completed = await clocked.post("/v1/cart/checkout/complete", headers=member)
    assert completed.status_code == 201, completed.text
    assert [line["quantity"] for line in completed.json()["lines"]] == [10]
    assert await stock_of(clocked, "shirt-red-m") == (0, 0)


async def test_another_shopper_takes_the_units_of_a_lapsed_reservation(
    clocked: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    other = bearer(settings, "u-2")
    await shirt(clocked, settings, stock=5)
    await add(clocked, member, "shirt-red-m", 5)
    await start(clocked, member)
    problem_of(await add(clocked, other, "shirt-red-m"), 409, "insufficient_stock")

    await advance(clocked, settings, settings.reservation_ttl_seconds + 1)
    assert (await add(clocked, other, "shirt-red-m", 5)).status_code == 201
    await start(clocked, other)

    assert await stock_of(clocked, "shirt-red-m") == (5, 0)
    blocked = await clocked.post("/v1/cart/checkout", headers=member)
    problem_of(blocked, 409, "checkout_blocked")
    assert [e["code"] for e in blocked.json()["errors"]] == ["out_of_stock"]
    problem_of(
        await clocked.post("/v1/cart/checkout/complete", headers=member), 409, "checkout_expired"
    )
    assert (await clocked.post("/v1/cart/checkout/complete", headers=other)).status_code == 201
    assert await stock_of(clocked, "shirt-red-m") == (0, 0)


async def test_a_lapsed_reservation_no_longer_holds_the_stock_on_hand_up(
    clocked: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(clocked, settings, stock=10)
    await add(clocked, member, "shirt-red-m", 8)
    await start(clocked, member)
    await advance(clocked, settings, settings.reservation_ttl_seconds + 1)

    lowered = await clocked.patch(
        "/v1/catalog/variants/shirt-red-m", json={"stock": 5}, headers=admin(settings)
    )

    assert lowered.status_code == 200, lowered.text
    assert await stock_of(clocked, "shirt-red-m") == (5, 5)


async def db_state(app: FastAPI) -> dict[str, Any]:
    async with app.state.database.read_session() as session:
        cart = (await session.scalars(select(Cart))).one()
        return {
            "cart": (cart.status, cart.locked_until, cart.version),
            "checkouts": sorted((await session.scalars(select(Checkout.status))).all()),
            "reservations": sorted((await session.scalars(select(Reservation.status))).all()),
            "reserved": (await session.scalars(select(Inventory.reserved))).all(),
        }


async def sweep(app: FastAPI, now: datetime) -> int:
    async with app.state.database.write_session() as session:
        expired = await checkout_service.expire_lapsed(session, now=now)
        await session.commit()
        return expired


async def test_the_sweep_expires_a_lapsed_checkout_and_a_second_sweep_does_nothing(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings, stock=10)
    await add(client, member, "shirt-red-m", 3)
    await add(client, member, "shirt-blue-l", 2)
    started = await start(client, member)
    later = datetime.now(UTC) + timedelta(seconds=settings.reservation_ttl_seconds + 1)

    assert await sweep(app, later) == 1

    state = await db_state(app)
    assert state["cart"][:2] == ("active", None)
    assert state["cart"][2] > started["cart_version"]
    assert state["checkouts"] == ["expired"]
    assert state["reservations"] == ["released", "released"]
    assert set(state["reserved"]) == {0}
    assert await stock_of(client, "shirt-red-m") == (10, 10)
    assert await stock_of(client, "shirt-blue-l") == (10, 10)
    cart = (await client.get("/v1/cart", headers=member)).json()
    assert (cart["status"], cart["version"]) == ("active", state["cart"][2])
    assert len(cart["items"]) == 2
    problem_of(await client.get("/v1/cart/checkout", headers=member), 404, "checkout_not_found")
    completed = await client.post("/v1/cart/checkout/complete", headers=member)
    assert completed.status_code == 409, completed.text
    assert completed.json()["code"] in {"checkout_expired", "checkout_not_found"}

    assert await sweep(app, later + timedelta(seconds=1)) == 0
    assert await db_state(app) == state
    await start(client, member)
    assert await stock_of(client, "shirt-red-m") == (10, 7)


async def test_the_sweep_leaves_a_checkout_whose_reservation_still_runs(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings, stock=10)
    await add(client, member, "shirt-red-m", 3)
    started = await start(client, member)
    before = await db_state(app)

    assert await sweep(app, datetime.now(UTC)) == 0

    assert await db_state(app) == before
    assert before["cart"][:2] == ("locked", datetime.fromisoformat(started["expires_at"]))
    assert await stock_of(client, "shirt-red-m") == (10, 7)
    completed = await client.post("/v1/cart/checkout/complete", headers=member)
    assert completed.status_code == 201, completed.text


async def test_the_sweep_expires_a_lapsed_checkout_whose_cart_was_already_changed(
    clocked_app: FastAPI, clocked: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(clocked, settings, stock=10)
    cart = (await add(clocked, member, "shirt-red-m", 3)).json()
    await start(clocked, member)
    await advance(clocked, settings, settings.reservation_ttl_seconds + 1)
    changed = await clocked.patch(
        f"/v1/cart/items/{cart['items'][0]['id']}", json={"quantity": 5}, headers=member
    )
    assert changed.status_code == 200, changed.text

    assert await sweep(clocked_app, await clocked_app.state.clock.now()) == 1

    state = await db_state(clocked_app)
    assert state["cart"] == ("active", None, changed.json()["version"])
    assert (state["checkouts"], state["reservations"]) == (["expired"], ["released"])
    assert await stock_of(clocked, "shirt-red-m") == (10, 10)
    again = await start(clocked, member)
    assert [line["quantity"] for line in again["lines"]] == [5]
    assert await stock_of(clocked, "shirt-red-m") == (10, 5)
