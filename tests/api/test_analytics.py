"""Seller and admin analytics against a scripted history whose every figure is known.

Eight members shop at seller-1: all take the shirt, u-0..u-4 the cap, u-0..u-3 the mug; u-7 also
takes seller-2's lamp. u-0 and u-1 buy at once; the rest idle past the inactivity window and are
abandoned; u-2, who consented, is messaged and buys: recovered.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from aimall_cart.carts.models import Cart, CartEvent
from aimall_cart.config import Settings
from aimall_cart.db import Database
from aimall_cart.recovery.engine import Engine
from tests.answers import problem_of
from tests.builders import admin, bearer, make_product, make_variant, put_product, shirt
from tests.recovery_steps import HOUR, advance, consent, run_pass, set_policy

Headers = dict[str, str]
SELLER_1 = "seller-1"
MEMBERS = [f"u-{n}" for n in range(8)]


@pytest.fixture
def app(clocked_app: FastAPI) -> FastAPI:
    clocked_app.state.recovery_engine = Engine.create(seed=3)
    return clocked_app


async def _take(client: httpx.AsyncClient, headers: Headers, product_id: str, variant: str) -> None:
    body = {"product_id": product_id, "variant_id": variant, "quantity": 1}
    response = await client.post("/v1/cart/items", json=body, headers=headers)
    assert response.status_code in (200, 201), response.text


async def _buy(client: httpx.AsyncClient, headers: Headers) -> None:
    assert (await client.post("/v1/cart/checkout", headers=headers)).status_code == 201
    assert (await client.post("/v1/cart/checkout/complete", headers=headers)).status_code == 201


async def _refresh(client: httpx.AsyncClient, settings: Settings) -> dict[str, Any]:
    response = await client.post("/v1/admin/analytics/refresh", headers=admin(settings))
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def _history(client: httpx.AsyncClient, settings: Settings) -> dict[str, Headers]:
    await shirt(client, settings, stock=100)
    for product_id in ("cap", "mug"):
        body = make_product(make_variant(f"{product_id}-1", price=500, stock=100), name=product_id)
        await put_product(client, settings, product_id, body)
    lamp = make_product(make_variant("lamp-1", price=3000), seller_id="seller-2", name="Lamp")
    await put_product(client, settings, "lamp", lamp)
    await set_policy(client, settings, inactivity_minutes=60, attribution_window_hours=72)
    members = {user: bearer(settings, user) for user in MEMBERS}
    await consent(client, members["u-2"])
    for n, headers in enumerate(members.values()):
        await _take(client, headers, "shirt", "shirt-red-m")
        if n < 5:
            await _take(client, headers, "cap", "cap-1")
        if n < 4:
            await _take(client, headers, "mug", "mug-1")
    await _take(client, members["u-7"], "lamp", "lamp-1")
    for user in ("u-0", "u-1"):
        await _buy(client, members[user])
    await advance(client, settings, 2 * HOUR)
    assert (await _refresh(client, settings))["abandoned"] == 6
    assert (await run_pass(client, settings))["sent"] == 1  # only u-2 consented
    await _buy(client, members["u-2"])
    await run_pass(client, settings)  # settles u-2's case: recovered
    await _refresh(client, settings)
    return members


async def _get(client: httpx.AsyncClient, path: str, headers: Headers, **params: str) -> Any:
    response = await client.get(path, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_figures_match_a_scripted_history(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    await _history(client, settings)
    seller = bearer(settings, "s-user", "seller", SELLER_1)
    found = await _get(client, "/v1/seller/analytics", seller)
    assert found["seller_id"] == SELLER_1
    assert found["min_group"] == 5
    assert found["totals"] == {
        "suppressed": False,
        "carts": 8,
        "units_added": 17,
        "abandoned_carts": 6,
        "recovered_carts": 1,
        "converted_carts": 3,
        "abandonment_rate": 0.75,
        "conversion_rate": 0.375,
        "recovery_rate": 0.1667,
        "value_in_open_carts": 5 * 1999 + 2 * 500 + 500,  # u-3..u-7's lines
    }
    products = {p["product_id"]: p for p in found["products"]}
    assert products["shirt"] == {
        "product_id": "shirt",
        "suppressed": False,
        "name": "Linen Shirt",
        "carts": 8,
        "units_added": 8,
        "abandoned_carts": 6,
        "recovered_carts": 1,
        "converted_carts": 3,
        "abandonment_rate": 0.75,
        "reasons": {"price": 0, "availability": 0, "other": 6},
    }
    assert "lamp" not in products


async def test_a_product_in_four_carts_is_withheld_with_a_complement(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    await _history(client, settings)
    seller = bearer(settings, "s-user", "seller", SELLER_1)
    found = await _get(client, "/v1/seller/analytics", seller)
    products = {p["product_id"]: p for p in found["products"]}
    # The mug (4 carts) is withheld, and with it the next smallest, the cap (5 carts): the
    # totals less the shirt give the two together, never the mug alone.
    assert products["mug"] == {"product_id": "mug", "suppressed": True}
    assert products["cap"] == {"product_id": "cap", "suppressed": True}
    shown_units = sum(p["units_added"] for p in products.values() if not p["suppressed"])
    assert found["totals"]["units_added"] - shown_units == 5 + 4


async def test_a_seller_under_the_minimum_sees_nothing_but_that_it_is_withheld(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    await _history(client, settings)
    found = await _get(
        client, "/v1/seller/analytics", bearer(settings, "s-2", "seller", "seller-2")
    )
    assert found["totals"] == {"suppressed": True}
    assert found["products"] == [{"product_id": "lamp", "suppressed": True}]
    assert all(day["suppressed"] for day in found["series"] if "carts" not in day)
    assert not [day for day in found["series"] if day.get("carts")]


async def test_the_admin_sees_the_funnel_reasons_products_and_recovery(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    await _history(client, settings)
    found = await _get(client, "/v1/admin/analytics", admin(settings))
    assert found["funnel"] == {
        "carts_created": 8,
        "carts_with_items": 8,
        "checkouts_started": 3,
        "orders": 3,
    }
    totals = found["totals"]
    assert (totals["abandoned_carts"], totals["recovered_carts"], totals["converted_carts"]) == (
        6,
        1,
        3,
    )
    assert totals["units_added"] == 18
    assert totals["abandonment_rate"] == 0.75
    assert found["reasons"] == {"price": 0, "availability": 0, "other": 6}
    ranked = [(p["product_id"], p["abandoned_carts"]) for p in found["most_abandoned_products"]]
    assert ranked == [("shirt", 6), ("cap", 3), ("mug", 2), ("lamp", 1)]
    sellers = {s["seller_id"]: s for s in found["sellers"]}
    assert sellers[SELLER_1]["carts"] == 8
    assert sellers["seller-2"]["carts"] == 1
    assert found["recovery"]["groups"]["ai"]["recovered"] == 1
    assert "lift" in found["recovery"]
    series = found["series"]
    assert len(series) == 30
    assert sum(day["carts"] for day in series) == 8
    assert sum(day["abandoned_carts"] for day in series) == 6


async def test_no_answer_names_a_person_a_cart_or_a_token(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    members = await _history(client, settings)
    carts = [(await client.get("/v1/cart", headers=h)) for h in members.values()]
    cart_ids = [c.json()["id"] for c in carts if c.status_code == 200]
    seller = bearer(settings, "s-user", "seller", SELLER_1)
    answers = [
        json.dumps(await _get(client, "/v1/seller/analytics", seller)),
        json.dumps(await _get(client, "/v1/admin/analytics", admin(settings))),
        (await client.get("/v1/admin/analytics?format=csv", headers=admin(settings))).text,
    ]
    secrets = [*MEMBERS, *cart_ids, "ann@mail.example", "Ann"]
    for answer in answers:
        assert not [s for s in secrets if s in answer], answer


async def test_the_admin_series_exports_as_csv(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    await _history(client, settings)
    response = await client.get(
        "/v1/admin/analytics", params={"format": "csv"}, headers=admin(settings)
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 30
    assert list(rows[0])[:3] == ["date", "carts_created", "carts"]
    for column, expected in (("carts_created", 8), ("abandoned_carts", 6), ("recovered_carts", 1)):
        assert sum(int(row[column]) for row in rows) == expected


@pytest.mark.parametrize(
    ("path", "role", "status", "code"),
    [
        ("/v1/seller/analytics", None, 401, "unauthenticated"),
        ("/v1/seller/analytics", "customer", 403, "forbidden"),
        ("/v1/admin/analytics", None, 401, "unauthenticated"),
        ("/v1/admin/analytics", "customer", 403, "forbidden"),
        ("/v1/admin/analytics", "seller", 403, "forbidden"),
    ],
)
async def test_analytics_are_for_their_roles_only(
    client: httpx.AsyncClient,
    settings: Settings,
    path: str,
    role: str | None,
    status: int,
    code: str,
) -> None:
    headers = {} if role is None else bearer(settings, "x-1", role, "seller-1")  # type: ignore[arg-type]
    problem_of(await client.get(path, headers=headers), status, code)


async def test_a_seller_cannot_read_another_sellers_figures(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    seller = bearer(settings, "s-2", "seller", "seller-2")
    found = await _get(client, "/v1/seller/analytics", seller, seller_id=SELLER_1)
    assert found["seller_id"] == "seller-2"
    assert found["products"] == []


async def test_an_admin_names_the_seller_and_a_range_in_order(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    found = await _get(client, "/v1/seller/analytics", admin(settings), seller_id=SELLER_1)
    assert found["seller_id"] == SELLER_1
    problem_of(
        await client.get("/v1/seller/analytics", headers=admin(settings)),
        422,
        "seller_id_required",
    )
    problem_of(
        await client.get(
            "/v1/seller/analytics",
            params={"seller_id": "nobody"},
            headers=admin(settings),
        ),
        404,
        "seller_not_found",
    )
    problem_of(
        await client.get(
            "/v1/admin/analytics",
            params={"from": "2026-11-02", "to": "2026-11-01"},
            headers=admin(settings),
        ),
        422,
        "invalid_range",
    )
    problem_of(
        await client.get(
            "/v1/admin/analytics", params={"to": "0001-01-02"}, headers=admin(settings)
        ),
        422,
        "invalid_range",
    )


async def _log_of(app: FastAPI) -> list[tuple[str, str | None, int, int, str | None]]:
    database: Database = app.state.database
    async with database.read_session() as session:
        rows = await session.execute(
            select(
                CartEvent.kind,
                CartEvent.variant_id,
                CartEvent.quantity_delta,
                CartEvent.value,
                CartEvent.seller_id,
            ).order_by(CartEvent.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_every_cart_change_is_logged_and_a_refused_one_is_not(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings, price=1000)
    add = {"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 2}
    first = await client.post("/v1/cart/items", json=add)
    guest = {"X-Cart-Token": first.headers["X-Cart-Token"]}
    line = first.json()["items"][0]["id"]
    await client.post("/v1/cart/items", json={**add, "quantity": 1}, headers=guest)
    await client.patch(f"/v1/cart/items/{line}", json={"quantity": 5}, headers=guest)
    refused = await client.patch(f"/v1/cart/items/{line}", json={"quantity": 99}, headers=guest)
    assert refused.status_code == 422
    await client.patch(f"/v1/cart/items/{line}", json={"variant_id": "shirt-blue-l"}, headers=guest)
    await client.delete(f"/v1/cart/items/{line}", headers=guest)
    assert await _log_of(app) == [
        ("cart_created", None, 0, 0, None),
        ("item_added", "shirt-red-m", 2, 2000, SELLER_1),
        ("item_added", "shirt-red-m", 1, 1000, SELLER_1),
        ("quantity_changed", "shirt-red-m", 2, 2000, SELLER_1),
        ("item_removed", "shirt-red-m", -5, -5000, SELLER_1),
        ("item_added", "shirt-blue-l", 5, 5000, SELLER_1),
        ("item_removed", "shirt-blue-l", -5, -5000, SELLER_1),
    ]


async def test_the_log_names_the_cart_only_by_its_random_key(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    member = bearer(settings, "u-9")
    add = {"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 1}
    cart = (await client.post("/v1/cart/items", json=add, headers=member)).json()
    database: Database = app.state.database
    async with database.read_session() as session:
        keys = set(await session.scalars(select(CartEvent.cart_key)))
        key = await session.scalar(
            select(Cart.analytics_key).where(Cart.id == uuid.UUID(cart["id"]))
        )
    assert keys == {key}
    assert len(key or "") == 32
    assert key != uuid.UUID(cart["id"]).hex
