"""Completing a checkout: the order, the sold stock, the archived cart, the order.placed event,
and who may read the order afterwards."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from aimall_cart.config import Settings
from aimall_cart.events import OutboxEvent, open_payload
from tests.answers import add_item, problem_of, stock_of
from tests.builders import admin, bearer, shirt


async def start(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.post("/v1/cart/checkout", headers=headers)
    assert response.status_code == 201, response.text
    checkout: dict[str, Any] = response.json()
    return checkout


async def place(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any] | None = None
) -> httpx.Response:
    return await client.post("/v1/cart/checkout/complete", json=body, headers=headers)


async def placed_events(app: FastAPI) -> list[OutboxEvent]:
    async with app.state.database.read_session() as session:
        rows = await session.scalars(select(OutboxEvent).where(OutboxEvent.type == "order.placed"))
        return list(rows)


async def test_completing_places_the_order_from_the_reserved_lines(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings, stock=10, price=1999, discount=200)
    await add_item(client, member, "shirt-red-m", 3)
    await add_item(client, member, "shirt-blue-l", 1)
    checkout = await start(client, member)

    response = await place(client, member, {"payment_reference": "pay-123"})

    assert response.status_code == 201, response.text
    order = response.json()
    assert uuid.UUID(order["id"])
    assert response.headers["Location"] == f"/v1/orders/{order['id']}"
    assert order["cart_id"] == checkout["cart_id"]
    assert order["status"] == "placed"
    assert order["currency"] == "USD"
    assert order["customer"]["type"] == "member"
    assert order["customer"]["user_id"] == "u-1"
    assert order["payment_reference"] == "pay-123"
    assert datetime.fromisoformat(order["created_at"]).utcoffset() is not None
    lines = sorted(order["lines"], key=lambda line: line["variant_id"])
    assert [
        (ln["product_id"], ln["variant_id"], ln["quantity"], ln["unit_price"], ln["discount"])
        for ln in lines
    ] == [("shirt", "shirt-blue-l", 1, 1999, 200), ("shirt", "shirt-red-m", 3, 1999, 200)]
    assert [ln["line_total"] for ln in lines] == [1799, 3 * 1799]
    assert lines[1]["options"] == {"color": "red", "size": "M"}
    assert lines[1]["name"] == "Linen Shirt"
    assert order["totals"] == checkout["totals"]
    assert order["totals"] == {
        "subtotal": 4 * 1999,
        "discount": 4 * 200,
        "total": 4 * 1799,
        "item_count": 4,
    }


async def test_completing_sells_the_reserved_stock(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings, stock=10)
    await add_item(client, member, "shirt-red-m", 3)
    await add_item(client, member, "shirt-blue-l", 2)
    await start(client, member)
    assert await stock_of(client, "shirt-red-m") == (10, 7)

    assert (await place(client, member)).status_code == 201

    assert await stock_of(client, "shirt-red-m") == (7, 7)
    assert await stock_of(client, "shirt-blue-l") == (8, 8)
    assert await stock_of(client, "shirt-red-l") == (10, 10)


async def test_the_checked_out_cart_is_archived_and_the_next_cart_is_new(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    cart = await add_item(client, member, "shirt-red-m", 2)
    await start(client, member)
    assert (await place(client, member)).status_code == 201

    problem_of(await client.get("/v1/cart", headers=member), 404, "cart_not_found")
    problem_of(await client.get("/v1/cart/checkout", headers=member), 404, "checkout_not_found")
    created = await client.post("/v1/cart", headers=member)
    assert created.status_code == 201, created.text
    fresh = created.json()
    assert fresh["id"] != cart["id"]
    assert (fresh["status"], fresh["items"]) == ("active", [])


async def test_order_placed_is_written_to_the_outbox_with_the_order(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    await add_item(client, member, "shirt-red-m", 2)
    await start(client, member)
    assert await placed_events(app) == []

    order = (await place(client, member, {"payment_reference": "pay-9"})).json()

    events = await placed_events(app)
    assert len(events) == 1
    assert events[0].status == "pending"
    payload = open_payload(settings.keys, events[0].id, events[0].payload)
    assert "pay-9" not in str(events[0].payload)
    assert datetime.fromisoformat(payload.pop("created_at")) == datetime.fromisoformat(
        order.pop("created_at")
    )
    customer = payload.pop("customer")
    assert customer["type"] == order.pop("customer")["type"] == "member"
    assert customer["user_id"] == "u-1"
    assert payload == order


async def test_completing_without_a_checkout_is_checkout_not_found(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    problem_of(await place(client, member), 409, "checkout_not_found")
    await shirt(client, settings)
    await add_item(client, member, "shirt-red-m", 2)
    problem_of(await place(client, member), 409, "checkout_not_found")
    await start(client, member)
    assert (await client.delete("/v1/cart/checkout", headers=member)).status_code == 200
    problem_of(await place(client, member), 409, "checkout_not_found")

    assert await stock_of(client, "shirt-red-m") == (10, 10)
    assert await placed_events(app) == []


async def test_completing_twice_places_one_order(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    await add_item(client, member, "shirt-red-m", 2)
    await start(client, member)
    assert (await place(client, member)).status_code == 201

    problem_of(await place(client, member), 409, "checkout_not_found")

    assert await stock_of(client, "shirt-red-m") == (8, 8)
    assert len(await placed_events(app)) == 1


async def test_an_accepted_price_change_is_what_the_order_charges(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings, price=1999)
    await add_item(client, member, "shirt-red-m", 2)
    response = await client.patch(
        "/v1/catalog/variants/shirt-red-m",
        json={"price": 2499, "discount": 300},
        headers=admin(settings),
    )
    assert response.status_code == 200, response.text
    started = await client.post(
        "/v1/cart/checkout", json={"accept_price_changes": True}, headers=member
    )
    assert started.status_code == 201, started.text

    order = (await place(client, member)).json()

    assert [(ln["unit_price"], ln["discount"], ln["line_total"]) for ln in order["lines"]] == [
        (2499, 300, 2 * 2199)
    ]
    assert order["totals"] == {
        "subtotal": 2 * 2499,
        "discount": 2 * 300,
        "total": 2 * 2199,
        "item_count": 2,
    }


async def test_payment_reference_is_optional_but_not_empty(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    await add_item(client, member, "shirt-red-m")
    await start(client, member)

    assert (await place(client, member, {"payment_reference": ""})).status_code == 422
    response = await place(client, member)

    assert response.status_code == 201, response.text
    assert response.json()["payment_reference"] is None


async def test_the_member_and_admins_read_the_order_and_nobody_else_learns_of_it(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    await add_item(client, member, "shirt-red-m", 2)
    await start(client, member)
    placed = await place(client, member, {"payment_reference": "pay-1"})
    order = placed.json()

    mine = await client.get(placed.headers["Location"], headers=member)
    assert mine.status_code == 200, mine.text
    assert mine.json() == order
    by_admin = await client.get(f"/v1/orders/{order['id']}", headers=admin(settings))
    assert by_admin.json() == order

    for stranger in (
        bearer(settings, "u-2"),
        bearer(settings, "seller-1", "seller", seller_id="seller-1"),
        {},
        {"X-Cart-Token": "t" * 43},
    ):
        refused = await client.get(f"/v1/orders/{order['id']}", headers=stranger)
        problem_of(refused, 404, "order_not_found")
    unknown = await client.get(f"/v1/orders/{uuid.uuid4()}", headers=admin(settings))
    problem_of(unknown, 404, "order_not_found")
    malformed = await client.get("/v1/orders/not-a-uuid", headers=admin(settings))
    assert malformed.status_code == 422, malformed.text


async def test_a_guest_checks_out_with_its_token_and_reads_the_order_with_it(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings, stock=5)
    created = await client.post(
        "/v1/cart/items", json={"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 2}
    )
    assert created.status_code == 201, created.text
    guest = {"X-Cart-Token": created.json()["guest_token"]}
    await start(client, guest)
    assert (await client.get("/v1/cart", headers=guest)).json()["status"] == "locked"
    assert await stock_of(client, "shirt-red-m") == (5, 3)

    placed = await place(client, guest)

    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["customer"]["type"] == "guest"
    assert order["customer"].get("user_id") is None
    assert await stock_of(client, "shirt-red-m") == (3, 3)
    problem_of(await client.get("/v1/cart", headers=guest), 404, "cart_not_found")
    mine = await client.get(f"/v1/orders/{order['id']}", headers=guest)
    assert mine.status_code == 200, mine.text
    assert mine.json() == order
    other_guest = await client.post("/v1/cart")
    other = {"X-Cart-Token": other_guest.json()["guest_token"]}
    problem_of(await client.get(f"/v1/orders/{order['id']}", headers=other), 404, "order_not_found")
    problem_of(
        await client.get(f"/v1/orders/{order['id']}", headers=bearer(settings, "u-1")),
        404,
        "order_not_found",
    )
