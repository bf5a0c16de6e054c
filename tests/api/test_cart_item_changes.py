"""Changing a line: `PATCH /v1/cart/items/{item_id}` with a quantity, variant or options."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from aimall_cart.config import Settings
from tests.answers import add_line, cart_of, lines, patch_line, problem_of, read_cart
from tests.builders import admin, bearer, make_product, make_variant, put_product, shirt

# --- PATCH /v1/cart/items/{item_id} ---------------------------------------------------------


async def test_patching_the_quantity_sets_it(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    line = await add_line(client, member, "shirt-red-m", 2)
    cart = cart_of(await patch_line(client, member, line["id"], quantity=5))
    assert lines(cart) == [("shirt-red-m", 5)]
    assert cart["items"][0]["id"] == line["id"]
    assert cart["totals"]["item_count"] == 5
    assert await read_cart(client, member) == cart


async def test_patching_the_quantity_to_zero_removes_the_line(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    gone = await add_line(client, member, "shirt-red-m", 2)
    await add_line(client, member, "shirt-blue-m", 1)
    cart = cart_of(await patch_line(client, member, gone["id"], quantity=0))
    assert lines(cart) == [("shirt-blue-m", 1)]


async def test_patching_one_option_keeps_the_others(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    line = await add_line(client, member, "shirt-red-m", 2)
    cart = cart_of(await patch_line(client, member, line["id"], options={"size": "L"}))
    [item] = cart["items"]
    assert (item["variant_id"], item["quantity"]) == ("shirt-red-l", 2)
    assert item["options"] == {"color": "red", "size": "L"}


async def test_patching_the_variant_id_moves_the_line_and_snapshots_that_variant(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    shirt_body = make_product(
        make_variant("shirt-red-m", price=1999, color="red", size="M"),
        make_variant("shirt-blue-l", price=2499, discount=500, color="blue", size="L"),
    )
    await put_product(client, settings, "shirt", shirt_body)
    line = await add_line(client, member, "shirt-red-m", 2)
    cart = cart_of(await patch_line(client, member, line["id"], variant_id="shirt-blue-l"))
    [item] = cart["items"]
    assert (item["variant_id"], item["options"]) == ("shirt-blue-l", {"color": "blue", "size": "L"})
    assert (item["unit_price"], item["discount"], item["flags"]) == (2499, 500, [])
    assert cart["totals"]["total"] == 2 * 1999


@pytest.mark.parametrize(
    "change",
    [{"options": {"size": "L"}}, {"variant_id": "shirt-red-l"}],
    ids=["by-options", "by-variant-id"],
)
async def test_a_change_that_makes_two_lines_identical_merges_them(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str], change: dict[str, Any]
) -> None:
    await shirt(client, settings)
    moving = await add_line(client, member, "shirt-red-m", 2)
    staying = await add_line(client, member, "shirt-red-l", 3)
    cart = cart_of(await patch_line(client, member, moving["id"], **change))
    assert lines(cart) == [("shirt-red-l", 5)]
    assert cart["items"][0]["id"] == staying["id"]
    assert cart["totals"]["item_count"] == 5


async def test_a_merge_by_patch_past_the_max_is_quantity_out_of_range(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings, stock=50, max_quantity=10)
    moving = await add_line(client, member, "shirt-red-m", 6)
    await add_line(client, member, "shirt-red-l", 5)
    before = await read_cart(client, member)
    response = await patch_line(client, member, moving["id"], options={"size": "L"})
    body = problem_of(response, 422, "quantity_out_of_range")
    assert (body["min_quantity"], body["max_quantity"]) == (1, 10)
    assert await read_cart(client, member) == before


async def test_raising_a_quantity_past_the_stock_is_insufficient_stock(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings, stock=3)
    line = await add_line(client, member, "shirt-red-m", 2)
    before = await read_cart(client, member)
    response = await patch_line(client, member, line["id"], quantity=4)
    assert problem_of(response, 409, "insufficient_stock")["available_quantity"] == 3
    assert await read_cart(client, member) == before


async def test_moving_to_a_variant_without_enough_stock_is_insufficient_stock(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings, stock=5)
    line = await add_line(client, member, "shirt-red-m", 4)
    stock = await client.patch(
        "/v1/catalog/variants/shirt-blue-m", json={"stock": 2}, headers=admin(settings)
    )
    assert stock.status_code == 200, stock.text
    response = await patch_line(client, member, line["id"], variant_id="shirt-blue-m")
    assert problem_of(response, 409, "insufficient_stock")["available_quantity"] == 2


async def test_lowering_a_quantity_is_allowed_while_stock_is_short(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings, stock=10)
    line = await add_line(client, member, "shirt-red-m", 6)
    stock = await client.patch(
        "/v1/catalog/variants/shirt-red-m", json={"stock": 2}, headers=admin(settings)
    )
    assert stock.status_code == 200, stock.text
    cart = cart_of(await patch_line(client, member, line["id"], quantity=4))
    [item] = cart["items"]
    assert (item["quantity"], item["available_quantity"]) == (4, 2)
    assert item["flags"] == ["insufficient_stock"]
    assert cart["checkout_blocked"] is True


@pytest.mark.parametrize("quantity", [1, 11])
async def test_patching_a_quantity_outside_the_bounds_is_quantity_out_of_range(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str], quantity: int
) -> None:
    await shirt(client, settings, stock=50, min_quantity=2, max_quantity=10)
    line = await add_line(client, member, "shirt-red-m", 3)
    body = problem_of(
        await patch_line(client, member, line["id"], quantity=quantity),
        422,
        "quantity_out_of_range",
    )
    assert (body["min_quantity"], body["max_quantity"]) == (2, 10)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"options": {"size": "XL"}}, id="unknown-value"),
        pytest.param({"options": {"fabric": "silk"}}, id="unknown-option"),
        pytest.param({"variant_id": "hat-1"}, id="variant-of-another-product"),
        pytest.param(
            {"variant_id": "shirt-red-l", "options": {"color": "blue"}}, id="options-disagree"
        ),
    ],
)
async def test_patching_to_options_that_name_no_variant_is_invalid_options(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str], change: dict[str, Any]
) -> None:
    await shirt(client, settings)
    await put_product(client, settings, "hat", make_product(make_variant("hat-1")))
    line = await add_line(client, member, "shirt-red-m")
    problem_of(await patch_line(client, member, line["id"], **change), 422, "invalid_options")


async def test_moving_to_an_inactive_variant_is_product_unavailable(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    line = await add_line(client, member, "shirt-red-m", 2)
    stopped = await client.patch(
        "/v1/catalog/variants/shirt-red-l", json={"status": "inactive"}, headers=admin(settings)
    )
    assert stopped.status_code == 200, stopped.text
    before = await read_cart(client, member)
    response = await patch_line(client, member, line["id"], options={"size": "L"})
    problem_of(response, 409, "product_unavailable")
    assert await read_cart(client, member) == before


async def test_lowering_a_line_whose_product_went_unavailable_is_allowed(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    member = bearer(settings, "u-trim")
    line = await add_line(client, member, "shirt-red-m", 3)
    await client.patch(
        "/v1/catalog/variants/shirt-red-m", json={"status": "inactive"}, headers=admin(settings)
    )
    cart = cart_of(await patch_line(client, member, line["id"], quantity=1))
    assert lines(cart) == [("shirt-red-m", 1)]
    assert cart["items"][0]["flags"] == ["unavailable"]
    problem_of(await patch_line(client, member, line["id"], quantity=2), 409, "product_unavailable")


async def test_lowering_below_the_minimum_is_quantity_out_of_range(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings, min_quantity=2)
    member = bearer(settings, "u-min")
    line = await add_line(client, member, "shirt-red-m", 3)
    body = problem_of(
        await patch_line(client, member, line["id"], quantity=1), 422, "quantity_out_of_range"
    )
    assert (body["min_quantity"], body["max_quantity"]) == (2, 10)


@pytest.mark.parametrize("quantity", [True, "2", 2.0])
async def test_a_quantity_must_be_a_json_integer(
    client: httpx.AsyncClient, settings: Settings, quantity: Any
) -> None:
    await shirt(client, settings)
    member = bearer(settings, "u-strict")
    line = await add_line(client, member, "shirt-red-m")
    problem_of(
        await patch_line(client, member, line["id"], quantity=quantity), 422, "validation_error"
    )
