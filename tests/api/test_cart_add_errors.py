"""What ``POST /v1/cart/items`` refuses: quantities, stock, availability, currency, size, prices."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from aimall_cart.config import Settings
from tests.answers import cart_of, problem_of, read_cart
from tests.builders import bearer, make_product, make_variant, put_product, shirt


async def add(client: httpx.AsyncClient, headers: dict[str, str], **item: Any) -> httpx.Response:
    return await client.post("/v1/cart/items", json=item, headers=headers)


# --- quantity_out_of_range ------------------------------------------------------------------


@pytest.mark.parametrize("quantity", [0, 1, 11, 50])
async def test_a_quantity_outside_the_product_bounds_is_quantity_out_of_range(
    client: httpx.AsyncClient, settings: Settings, quantity: int
) -> None:
    await shirt(client, settings, min_quantity=2, max_quantity=10)
    member = bearer(settings, "u-1")
    response = await add(
        client, member, product_id="shirt", variant_id="shirt-red-m", quantity=quantity
    )
    body = problem_of(response, 422, "quantity_out_of_range")
    assert (body["min_quantity"], body["max_quantity"]) == (2, 10)
    problem_of(await client.get("/v1/cart", headers=member), 404, "cart_not_found")


async def test_the_bounds_themselves_are_allowed(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings, min_quantity=2, max_quantity=10)
    member = bearer(settings, "u-1")
    low = await add(client, member, product_id="shirt", variant_id="shirt-red-m", quantity=2)
    high = await add(client, member, product_id="shirt", variant_id="shirt-red-l", quantity=10)
    assert cart_of(low, 201)["items"][0]["quantity"] == 2
    assert cart_of(high, 201)["items"][1]["quantity"] == 10


@pytest.mark.parametrize("quantity", [3, 0])
async def test_adding_to_a_line_past_the_max_or_nothing_is_quantity_out_of_range(
    client: httpx.AsyncClient, settings: Settings, quantity: int
) -> None:
    await shirt(client, settings, stock=100, max_quantity=10)
    member = bearer(settings, "u-1")
    cart_of(
        await add(client, member, product_id="shirt", variant_id="shirt-red-m", quantity=8), 201
    )
    before = await read_cart(client, member)
    response = await add(
        client, member, product_id="shirt", variant_id="shirt-red-m", quantity=quantity
    )
    body = problem_of(response, 422, "quantity_out_of_range")
    assert (body["min_quantity"], body["max_quantity"]) == (1, 10)
    assert await read_cart(client, member) == before


@pytest.mark.parametrize("quantity", [-1, 1_000_001, "two", 1.5, None])
async def test_a_quantity_that_is_not_a_count_is_a_validation_error(
    client: httpx.AsyncClient, settings: Settings, quantity: Any
) -> None:
    await shirt(client, settings)
    response = await add(
        client, {}, product_id="shirt", variant_id="shirt-red-m", quantity=quantity
    )
    problem_of(response, 422, "validation_error")


# --- insufficient_stock and product_unavailable ---------------------------------------------


async def test_adding_more_than_the_stock_is_insufficient_stock_with_the_available_quantity(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings, stock=3)
    member = bearer(settings, "u-1")
    response = await add(client, member, product_id="shirt", variant_id="shirt-red-m", quantity=4)
    assert problem_of(response, 409, "insufficient_stock")["available_quantity"] == 3


async def test_adding_to_a_line_past_the_stock_is_insufficient_stock_and_changes_nothing(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings, stock=3)
    member = bearer(settings, "u-1")
    cart_of(
        await add(client, member, product_id="shirt", variant_id="shirt-red-m", quantity=2), 201
    )
    before = await read_cart(client, member)
    response = await add(client, member, product_id="shirt", variant_id="shirt-red-m", quantity=2)
    assert problem_of(response, 409, "insufficient_stock")["available_quantity"] == 3
    assert await read_cart(client, member) == before
    exact = await add(client, member, product_id="shirt", variant_id="shirt-red-m", quantity=1)
    assert cart_of(exact, 200)["items"][0]["quantity"] == 3


async def test_an_out_of_stock_variant_is_insufficient_stock_with_nothing_available(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings, stock=0)
    response = await add(client, {}, product_id="shirt", variant_id="shirt-red-m")
    assert problem_of(response, 409, "insufficient_stock")["available_quantity"] == 0
    assert "X-Cart-Token" not in response.headers


@pytest.mark.parametrize(
    ("product_status", "variant_status", "item"),
    [
        pytest.param("inactive", "active", {"variant_id": "pen-red"}, id="inactive-product"),
        pytest.param("active", "inactive", {"variant_id": "pen-red"}, id="inactive-variant-by-id"),
        pytest.param(
            "active", "inactive", {"options": {"color": "red"}}, id="inactive-variant-by-options"
        ),
    ],
)
async def test_an_inactive_product_or_variant_is_product_unavailable(
    client: httpx.AsyncClient,
    settings: Settings,
    product_status: str,
    variant_status: str,
    item: dict[str, Any],
) -> None:
    pen = make_product(
        make_variant("pen-red", status=variant_status, color="red"),
        make_variant("pen-blue", color="blue"),
        status=product_status,
    )
    await put_product(client, settings, "pen", pen)
    response = await add(client, {}, product_id="pen", **item)
    problem_of(response, 409, "product_unavailable")


async def test_partial_options_prefer_the_one_active_variant(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    patched = await client.patch(
        "/v1/catalog/variants/shirt-red-l",
        json={"status": "inactive"},
        headers=bearer(settings, "admin-1", "admin"),
    )
    assert patched.status_code == 200, patched.text
    response = await add(client, {}, product_id="shirt", options={"color": "red"})
    assert cart_of(response, 201)["items"][0]["variant_id"] == "shirt-red-m"


async def test_an_unknown_product_is_product_not_found(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    member = bearer(settings, "u-1")
    response = await add(client, member, product_id="no-such-product", quantity=1)
    problem_of(response, 404, "product_not_found")
    problem_of(await client.get("/v1/cart", headers=member), 404, "cart_not_found")


# --- currency_mismatch ----------------------------------------------------------------------


async def test_a_product_in_another_currency_is_currency_mismatch(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    euro = make_product(make_variant("scarf-1", price=2500), currency="EUR")
    await put_product(client, settings, "scarf", euro)
    member = bearer(settings, "u-1")
    cart_of(await add(client, member, product_id="shirt", variant_id="shirt-red-m"), 201)
    before = await read_cart(client, member)
    response = await add(client, member, product_id="scarf")
    body = problem_of(response, 422, "currency_mismatch")
    assert (body["cart_currency"], body["currency"]) == ("USD", "EUR")
    assert await read_cart(client, member) == before


async def test_an_empty_cart_takes_the_currency_of_its_first_item(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    euro = make_product(make_variant("scarf-1", price=2500), currency="EUR")
    await put_product(client, settings, "scarf", euro)
    member = bearer(settings, "u-1")
    assert cart_of(await client.post("/v1/cart", headers=member), 201)["currency"] == "USD"
    cart = cart_of(await add(client, member, product_id="scarf"), 201)
    assert (cart["currency"], cart["totals"]["total"]) == ("EUR", 2500)


# --- cart_full ------------------------------------------------------------------------------


async def test_the_101st_line_is_cart_full_while_existing_lines_still_grow(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    variants = [make_variant(f"sock-{n:03}", price=100, stock=50, n=str(n)) for n in range(101)]
    await put_product(client, settings, "sock", make_product(*variants, max_quantity=1000))
    member = bearer(settings, "u-1")
    for n in range(100):
        response = await add(client, member, product_id="sock", variant_id=f"sock-{n:03}")
        assert response.status_code == 201, response.text
    full = await read_cart(client, member)
    assert len(full["items"]) == 100
    response = await add(client, member, product_id="sock", variant_id="sock-100")
    assert problem_of(response, 422, "cart_full")["max_lines"] == 100
    assert await read_cart(client, member) == full
    more = cart_of(await add(client, member, product_id="sock", variant_id="sock-000"), 200)
    assert (len(more["items"]), more["items"][0]["quantity"]) == (100, 2)


# --- the price snapshot is the catalog's ----------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("unit_price", 1), ("discount", 1999), ("price", 1), ("line_total", 0), ("currency", "EUR")],
)
async def test_prices_from_the_client_are_a_validation_error(
    client: httpx.AsyncClient, settings: Settings, field: str, value: Any
) -> None:
    await shirt(client, settings)
    member = bearer(settings, "u-1")
    item = {"product_id": "shirt", "variant_id": "shirt-red-m", field: value}
    response = await client.post("/v1/cart/items", json=item, headers=member)
    body = problem_of(response, 422, "validation_error")
    assert any(field in error["loc"] for error in body["errors"])
    problem_of(await client.get("/v1/cart", headers=member), 404, "cart_not_found")


async def test_the_unit_price_is_the_catalog_price_when_the_line_is_added(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings, price=1500, discount=200)
    response = await add(client, {}, product_id="shirt", variant_id="shirt-blue-m", quantity=3)
    cart = cart_of(response, 201)
    [item] = cart["items"]
    assert (item["unit_price"], item["discount"], item["line_total"]) == (1500, 200, 3900)
    assert (item["current_unit_price"], item["flags"]) == (1500, [])
    assert cart["totals"] == {"subtotal": 4500, "discount": 600, "total": 3900, "item_count": 3}
