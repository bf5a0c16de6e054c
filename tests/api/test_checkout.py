"""Starting, reading and cancelling a checkout: validation, the stock reservation, the cart lock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from aimall_cart.config import Settings
from tests.answers import add_item, patch_variant, problem_of, stock_of
from tests.builders import bearer, make_product, make_variant, put_product, shirt


def errors_of(body: dict[str, Any]) -> list[tuple[str | None, str]]:
    return sorted(((e["item_id"], e["code"]) for e in body["errors"]), key=str)


async def test_checkout_reserves_the_stock_and_locks_the_cart(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings, stock=10, price=1999, discount=200)
    await add_item(client, member, "shirt-red-m", 3)
    cart = await add_item(client, member, "shirt-blue-l", 2)

    response = await client.post("/v1/cart/checkout", headers=member)

    assert response.status_code == 201, response.text
    checkout = response.json()
    assert (checkout["status"], checkout["cart_id"]) == ("open", cart["id"])
    assert checkout["cart_version"] == cart["version"] + 1
    assert response.headers["ETag"] == f'"{checkout["cart_version"]}"'
    assert checkout["currency"] == "USD"
    assert sorted((line["variant_id"], line["quantity"]) for line in checkout["lines"]) == [
        ("shirt-blue-l", 2),
        ("shirt-red-m", 3),
    ]
    assert checkout["totals"] == {
        "subtotal": 5 * 1999,
        "discount": 5 * 200,
        "total": 5 * 1799,
        "item_count": 5,
    }
    lifetime = datetime.fromisoformat(checkout["expires_at"]) - datetime.fromisoformat(
        checkout["created_at"]
    )
    assert lifetime == timedelta(seconds=settings.reservation_ttl_seconds)
    assert await stock_of(client, "shirt-red-m") == (10, 7)
    assert await stock_of(client, "shirt-blue-l") == (10, 8)
    assert await stock_of(client, "shirt-red-l") == (10, 10)

    locked = (await client.get("/v1/cart", headers=member)).json()
    assert (locked["status"], locked["version"]) == ("locked", checkout["cart_version"])
    refused = await client.post(
        "/v1/cart/items",
        json={"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 8},
        headers=bearer(settings, "u-2"),
    )
    assert problem_of(refused, 409, "insufficient_stock")["available_quantity"] == 7


async def test_a_locked_cart_refuses_item_changes_and_a_second_checkout(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    cart = await add_item(client, member, "shirt-red-m", 2)
    item_id = cart["items"][0]["id"]
    assert (await client.post("/v1/cart/checkout", headers=member)).status_code == 201

    added = await client.post(
        "/v1/cart/items", json={"product_id": "shirt", "variant_id": "shirt-red-l"}, headers=member
    )
    problem_of(added, 409, "cart_locked")
    patch = await client.patch(f"/v1/cart/items/{item_id}", json={"quantity": 5}, headers=member)
    problem_of(patch, 409, "cart_locked")
    problem_of(await client.delete(f"/v1/cart/items/{item_id}", headers=member), 409, "cart_locked")
    problem_of(await client.delete("/v1/cart/items", headers=member), 409, "cart_locked")
    problem_of(await client.post("/v1/cart/checkout", headers=member), 409, "cart_locked")

    assert await stock_of(client, "shirt-red-m") == (10, 8)
    unchanged = (await client.get("/v1/cart", headers=member)).json()
    assert [(i["variant_id"], i["quantity"]) for i in unchanged["items"]] == [("shirt-red-m", 2)]


async def test_checkout_needs_a_cart_with_lines(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    problem_of(await client.post("/v1/cart/checkout", headers=member), 404, "cart_not_found")
    assert (await client.post("/v1/cart", headers=member)).status_code == 201

    body = problem_of(
        await client.post("/v1/cart/checkout", headers=member), 409, "checkout_blocked"
    )

    assert [(e["item_id"], e["code"]) for e in body["errors"]] == [(None, "cart_empty")]
    assert (await client.get("/v1/cart", headers=member)).json()["status"] == "active"


async def test_every_flag_blocks_checkout_with_one_entry_per_line_and_reserves_nothing(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings, stock=10)
    for variant_id, quantity in [("shirt-red-m", 5), ("shirt-red-l", 3), ("shirt-blue-m", 2)]:
        await add_item(client, member, variant_id, quantity)
    cart = await add_item(client, member, "shirt-blue-l", 1)
    ids = {i["variant_id"]: i["id"] for i in cart["items"]}
    await shirt(client, settings, stock=10, max_quantity=4)
    await patch_variant(client, settings, "shirt-red-l", stock=1)
    await patch_variant(client, settings, "shirt-blue-m", stock=0)
    await patch_variant(client, settings, "shirt-blue-l", status="inactive")

    body = problem_of(
        await client.post("/v1/cart/checkout", headers=member), 409, "checkout_blocked"
    )

    assert errors_of(body) == sorted(
        [
            (ids["shirt-red-m"], "quantity_out_of_range"),
            (ids["shirt-red-l"], "insufficient_stock"),
            (ids["shirt-blue-m"], "out_of_stock"),
            (ids["shirt-blue-l"], "unavailable"),
        ],
        key=str,
    )
    by_item = {e["item_id"]: e for e in body["errors"]}
    assert by_item[ids["shirt-red-l"]]["available_quantity"] == 1
    assert by_item[ids["shirt-blue-m"]]["available_quantity"] == 0
    assert all(e["message"] for e in body["errors"])
    assert await stock_of(client, "shirt-red-m") == (10, 10)
    after = (await client.get("/v1/cart", headers=member)).json()
    assert after["status"] == "active"
    problem_of(await client.get("/v1/cart/checkout", headers=member), 404, "checkout_not_found")


async def test_a_price_change_blocks_checkout_unless_accepted(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings, price=1999, discount=0)
    cart = await add_item(client, member, "shirt-red-m", 2)
    await patch_variant(client, settings, "shirt-red-m", price=2499, discount=100)

    for body in (None, {"accept_price_changes": False}):
        refused = await client.post("/v1/cart/checkout", json=body, headers=member)
        blocked = problem_of(refused, 409, "checkout_blocked")
        assert errors_of(blocked) == [(cart["items"][0]["id"], "price_changed")]

    response = await client.post(
        "/v1/cart/checkout", json={"accept_price_changes": True}, headers=member
    )

    assert response.status_code == 201, response.text
    line = response.json()["lines"][0]
    assert (line["unit_price"], line["discount"], line["flags"]) == (2499, 100, [])
    assert response.json()["totals"]["total"] == 2 * 2399


async def test_accepting_price_changes_does_not_let_other_problems_through(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings, stock=10)
    cart = await add_item(client, member, "shirt-red-m", 4)
    await patch_variant(client, settings, "shirt-red-m", price=999, stock=2)

    response = await client.post(
        "/v1/cart/checkout", json={"accept_price_changes": True}, headers=member
    )

    body = problem_of(response, 409, "checkout_blocked")
    assert errors_of(body) == [(cart["items"][0]["id"], "insufficient_stock")]
    assert await stock_of(client, "shirt-red-m") == (2, 2)


async def test_checkout_honours_if_match(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    first = await add_item(client, member, "shirt-red-m")
    current = await add_item(client, member, "shirt-red-l")

    stale = {**member, "If-Match": f'"{first["version"]}"'}
    problem_of(await client.post("/v1/cart/checkout", headers=stale), 412, "version_mismatch")
    assert await stock_of(client, "shirt-red-m") == (10, 10)

    fresh = {**member, "If-Match": f'"{current["version"]}"'}
    started = await client.post("/v1/cart/checkout", headers=fresh)
    assert started.status_code == 201, started.text


async def test_reading_the_checkout_shows_the_one_in_progress(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    problem_of(await client.get("/v1/cart/checkout", headers=member), 404, "checkout_not_found")
    await add_item(client, member, "shirt-red-m", 2)
    problem_of(await client.get("/v1/cart/checkout", headers=member), 404, "checkout_not_found")
    started = (await client.post("/v1/cart/checkout", headers=member)).json()

    response = await client.get("/v1/cart/checkout", headers=member)

    assert response.status_code == 200, response.text
    assert response.json() == started
    assert response.headers["ETag"] == f'"{started["cart_version"]}"'
    other = bearer(settings, "u-2")
    problem_of(await client.get("/v1/cart/checkout", headers=other), 404, "checkout_not_found")


async def test_cancelling_releases_the_stock_and_unlocks_the_cart(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings, stock=10)
    cart = await add_item(client, member, "shirt-red-m", 4)
    problem_of(await client.delete("/v1/cart/checkout", headers=member), 409, "checkout_not_found")
    started = (await client.post("/v1/cart/checkout", headers=member)).json()
    assert await stock_of(client, "shirt-red-m") == (10, 6)

    response = await client.delete("/v1/cart/checkout", headers=member)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["status"]) == (cart["id"], "active")
    assert body["version"] > started["cart_version"]
    assert response.headers["ETag"] == f'"{body["version"]}"'
    assert [(i["variant_id"], i["quantity"]) for i in body["items"]] == [("shirt-red-m", 4)]
    assert await stock_of(client, "shirt-red-m") == (10, 10)
    problem_of(await client.get("/v1/cart/checkout", headers=member), 404, "checkout_not_found")
    problem_of(await client.delete("/v1/cart/checkout", headers=member), 409, "checkout_not_found")
    patch = await client.patch(
        f"/v1/cart/items/{cart['items'][0]['id']}", json={"quantity": 5}, headers=member
    )
    assert patch.status_code == 200, patch.text
    again = await client.post("/v1/cart/checkout", headers=member)
    assert again.status_code == 201, again.text
    assert again.json()["id"] != started["id"]
    assert await stock_of(client, "shirt-red-m") == (10, 5)


async def test_lines_sharing_a_variant_are_checked_against_its_stock_together(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings, stock=10)
    await add_item(client, member, "shirt-red-m", 6)
    renamed = make_variant("shirt-red-m", stock=10, color="crimson", size="M")
    await put_product(client, settings, "shirt", make_product(renamed))
    cart = await add_item(client, member, "shirt-red-m", 6)
    assert len(cart["items"]) == 2

    body = problem_of(
        await client.post("/v1/cart/checkout", headers=member), 409, "checkout_blocked"
    )

    assert errors_of(body) == sorted(
        ((i["id"], "insufficient_stock") for i in cart["items"]), key=str
    )
    assert await stock_of(client, "shirt-red-m") == (10, 10)
    assert (await client.get("/v1/cart", headers=member)).json()["status"] == "active"


async def test_the_units_a_checkout_holds_do_not_flag_its_own_lines(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings, stock=3)
    await add_item(client, member, "shirt-red-m", 3)
    await add_item(client, member, "shirt-blue-m", 2)

    started = await client.post("/v1/cart/checkout", headers=member)

    assert started.status_code == 201, started.text
    assert await stock_of(client, "shirt-red-m") == (3, 0)
    assert [line["flags"] for line in started.json()["lines"]] == [[], []]
    read = (await client.get("/v1/cart/checkout", headers=member)).json()
    assert [line["flags"] for line in read["lines"]] == [[], []]
    cart = (await client.get("/v1/cart", headers=member)).json()
    assert (cart["status"], cart["checkout_blocked"], cart["issues"]) == ("locked", False, [])
