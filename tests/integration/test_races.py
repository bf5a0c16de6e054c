"""Races that commit for real: many concurrent requests, each on its own pooled connection."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from aimall_cart.auth import Principal
from aimall_cart.carts import present
from aimall_cart.carts import service as carts
from aimall_cart.carts.access import CartPolicy, GuestCredential
from aimall_cart.carts.schemas import AddItem
from aimall_cart.config import Settings
from aimall_cart.db import Database
from tests.builders import bearer, make_product, make_variant, put_product, shirt

CONCURRENT_ADDS = 200
CONCURRENT_MERGES = 50


async def test_concurrent_adds_to_one_cart_end_in_one_line_holding_every_success(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await put_product(
        client,
        settings,
        "bolt",
        make_product(make_variant("bolt-1", stock=10_000), max_quantity=10_000),
    )
    member = bearer(settings, "racer")
    start = (await client.post("/v1/cart", headers=member)).json()["version"]

    async def add_one() -> httpx.Response:
        body = {"product_id": "bolt", "quantity": 1}
        return await client.post("/v1/cart/items", json=body, headers=member)

    answers = await asyncio.gather(*(add_one() for _ in range(CONCURRENT_ADDS)))
    successes = [a for a in answers if a.status_code in (200, 201)]
    assert all(a.status_code in (200, 201, 503) for a in answers), {a.status_code for a in answers}
    assert len(successes) >= CONCURRENT_ADDS * 0.9
    assert sum(a.status_code == 201 for a in answers) == 1  # exactly one request started the line
    cart = (await client.get("/v1/cart", headers=member)).json()
    assert [item["quantity"] for item in cart["items"]] == [len(successes)]
    assert cart["version"] == start + len(successes)
    assert sorted(a.json()["version"] for a in successes) == list(
        range(start + 1, start + len(successes) + 1)
    )


async def test_two_updates_with_the_same_if_match_let_exactly_one_through(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    member = bearer(settings, "u-race")
    added = await client.post(
        "/v1/cart/items", json={"product_id": "shirt", "variant_id": "shirt-red-m"}, headers=member
    )
    item_id, etag = added.json()["items"][0]["id"], added.headers["ETag"]

    async def set_quantity(quantity: int) -> httpx.Response:
        return await client.patch(
            f"/v1/cart/items/{item_id}",
            json={"quantity": quantity},
            headers={**member, "If-Match": etag},
        )

    first, second = await asyncio.gather(set_quantity(2), set_quantity(3))
    assert sorted([first.status_code, second.status_code]) == [200, 412]
    winner = first if first.status_code == 200 else second
    loser = second if winner is first else first
    assert loser.json()["code"] == "version_mismatch"
    cart = (await client.get("/v1/cart", headers=member)).json()
    assert cart["items"][0]["quantity"] == winner.json()["items"][0]["quantity"]
    assert cart["version"] == added.json()["version"] + 1


async def _guest_cart(client: httpx.AsyncClient, lines: list[dict[str, Any]]) -> str:
    token = None
    for line in lines:
        headers = {"X-Cart-Token": token} if token else {}
        answer = await client.post("/v1/cart/items", json=line, headers=headers)
        assert answer.status_code in (200, 201), answer.text
        token = token or answer.headers["X-Cart-Token"]
    assert token is not None
    return token


async def test_concurrent_merges_of_one_guest_cart_add_its_lines_exactly_once(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings, stock=100, max_quantity=50)
    member = bearer(settings, "u-merge")
    await client.post(
        "/v1/cart/items",
        json={"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 2},
        headers=member,
    )
    token = await _guest_cart(
        client,
        [
            {"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 3},
            {"product_id": "shirt", "variant_id": "shirt-blue-l", "quantity": 4},
        ],
    )
    headers = {**member, "X-Cart-Token": token}
    answers = await asyncio.gather(
        *(client.post("/v1/cart/merge", headers=headers) for _ in range(CONCURRENT_MERGES))
    )
    assert {a.status_code for a in answers} <= {200, 503}
    merged = [a.json()["merge"] for a in answers if a.status_code == 200]
    assert sum(bool(report["added"] or report["combined"]) for report in merged) == 1
    cart = (await client.get("/v1/cart", headers=member)).json()
    assert {i["variant_id"]: i["quantity"] for i in cart["items"]} == {
        "shirt-red-m": 5,
        "shirt-blue-l": 4,
    }
    gone = await client.get("/v1/cart", headers={"X-Cart-Token": token})
    assert gone.status_code == 404


@pytest.mark.parametrize("way", ["guarded", "transaction"])
async def test_an_add_that_met_a_concurrent_change_builds_on_it(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, way: str
) -> None:
    """Another change holds the cart's lock (on SQLite, the database's) when an add comes.
    Guarded (a request's way), the add read the cart before that change committed, so its guard
    finds a newer version and the add runs again. In a transaction on PostgreSQL, the claim's own
    read sees the cart as it was before the claim waited for the lock, so the add must read it
    again."""
    database: Database = app.state.database
    if database.engine.dialect.name == "sqlite" and way == "transaction":
        pytest.skip("SQLite's write transaction holds the database before its claim reads")
    await put_product(client, settings, "bolt", make_product(make_variant("bolt-1", stock=100)))
    member = bearer(settings, "waiter")
    first = await client.post("/v1/cart/items", json={"product_id": "bolt"}, headers=member)
    assert first.status_code == 201, first.text
    async with database.engine.connect() as holder:
        # Another change, as every change is made: the version bumped with the lines.
        await holder.execute(
            text("UPDATE carts SET version = version + 1 WHERE user_id = 'waiter'")
        )
        await holder.execute(
            text(
                "UPDATE cart_items SET quantity = quantity + 1"
                " WHERE cart_id IN (SELECT id FROM carts WHERE user_id = 'waiter')"
            )
        )
        waiting = asyncio.create_task(_add_one_bolt(database, client, member, way))
        await _until_a_statement_waits_for_a_lock(database)
        await holder.commit()
    answer = await waiting
    assert [item["quantity"] for item in answer["items"]] == [3]
    assert answer["version"] == first.json()["version"] + 2
    cart = (await client.get("/v1/cart", headers=member)).json()
    assert [item["quantity"] for item in cart["items"]] == [3]
    # The add that lost its race left nothing behind: one event per add that took effect.
    async with database.engine.connect() as reader:
        logged = await reader.scalar(
            text(
                "SELECT count(*) FROM cart_events JOIN carts ON carts.analytics_key = cart_key"
                " WHERE carts.user_id = 'waiter' AND kind = 'item_added'"
            )
        )
    assert logged == 2


async def _add_one_bolt(
    database: Database, client: httpx.AsyncClient, member: dict[str, str], way: str
) -> dict[str, Any]:
    """The cart after one more bolt, added as a request (guarded) or in a write transaction."""
    if way == "guarded":
        answer = await client.post("/v1/cart/items", json={"product_id": "bolt"}, headers=member)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body
    view = await database.write(
        lambda sql: carts.add_item(
            sql,
            principal=Principal(user_id="waiter", role="customer"),
            data=AddItem(product_id="bolt"),
            expected_version=None,
            guest=GuestCredential("unused", "unused"),
            policy=CartPolicy(max_lines=100, default_currency="USD"),
            now=datetime.now(UTC),
        )
    )
    return orjson.loads(present.cart_json(view))


async def _until_a_statement_waits_for_a_lock(database: Database) -> None:
    if database.engine.dialect.name == "sqlite":
        # SQLite shows no waiting writer; the add's read and its wait take milliseconds.
        await asyncio.sleep(0.5)
        return
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    async with asyncio.timeout(10):
        while True:
            async with database.engine.connect() as watcher:
                if await watcher.scalar(waiting):
                    return
            await asyncio.sleep(0.02)
