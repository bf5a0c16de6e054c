"""Live flags: a catalog change shows on the affected lines at the next read or write."""

from __future__ import annotations

from typing import Any

import httpx

from aimall_cart.config import Settings
from tests.answers import add_item, patch_variant, read_cart
from tests.builders import make_product, make_variant, put_product, shirt


def item(cart: dict[str, Any], variant_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(i for i in cart["items"] if i["variant_id"] == variant_id)
    return found


def issues(cart: dict[str, Any]) -> list[tuple[str, str]]:
    return [(issue["item_id"], issue["code"]) for issue in cart["issues"]]


def assert_blocked_exactly_by_flags(cart: dict[str, Any]) -> None:
    """``issues`` has one entry per (item, flag), and any flag blocks checkout."""
    expected = [(line["id"], flag) for line in cart["items"] for flag in line["flags"]]
    assert sorted(issues(cart)) == sorted(expected)
    assert all(issue["message"] for issue in cart["issues"])
    assert cart["checkout_blocked"] is bool(expected)


async def test_a_cart_without_flags_does_not_block_checkout(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    await add_item(client, member, "shirt-red-m", 2)
    cart = await read_cart(client, member)
    assert [line["flags"] for line in cart["items"]] == [[]]
    assert (cart["checkout_blocked"], cart["issues"]) == (False, [])


async def test_a_price_change_is_flagged_with_the_current_price_and_totals_keep_the_snapshot(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings, price=1999)
    await add_item(client, member, "shirt-red-m", 2)
    await add_item(client, member, "shirt-blue-m", 1)
    await patch_variant(client, settings, "shirt-red-m", price=2199)
    cart = await read_cart(client, member)
    red = item(cart, "shirt-red-m")
    assert red["flags"] == ["price_changed"]
    assert (red["unit_price"], red["current_unit_price"], red["line_total"]) == (1999, 2199, 3998)
    assert item(cart, "shirt-blue-m")["flags"] == []
    assert issues(cart) == [(red["id"], "price_changed")]
    assert cart["totals"] == {"subtotal": 5997, "discount": 0, "total": 5997, "item_count": 3}
    assert_blocked_exactly_by_flags(cart)


async def test_a_lower_price_or_a_bigger_discount_is_a_price_change_too(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings, price=1999)
    await add_item(client, member, "shirt-red-m")
    await add_item(client, member, "shirt-red-l")
    await patch_variant(client, settings, "shirt-red-m", price=1499)
    await patch_variant(client, settings, "shirt-red-l", discount=300)
    cart = await read_cart(client, member)
    assert [line["flags"] for line in cart["items"]] == [["price_changed"], ["price_changed"]]
    assert cart["totals"]["total"] == 2 * 1999
    assert_blocked_exactly_by_flags(cart)


async def test_a_net_price_neutral_change_is_not_a_price_change(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings, price=1999, discount=200)
    await add_item(client, member, "shirt-red-m", 2)
    await patch_variant(client, settings, "shirt-red-m", price=2099, discount=300)
    cart = await read_cart(client, member)
    [line] = cart["items"]
    assert line["flags"] == []
    assert (line["unit_price"], line["discount"], line["current_unit_price"]) == (1999, 200, 2099)
    assert (cart["checkout_blocked"], cart["issues"]) == (False, [])
    assert cart["totals"] == {"subtotal": 3998, "discount": 400, "total": 3598, "item_count": 2}


async def test_stock_at_zero_is_out_of_stock(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    await add_item(client, member, "shirt-red-m", 2)
    await patch_variant(client, settings, "shirt-red-m", stock=0)
    cart = await read_cart(client, member)
    [line] = cart["items"]
    assert (line["flags"], line["available_quantity"]) == (["out_of_stock"], 0)
    assert issues(cart) == [(line["id"], "out_of_stock")]
    assert_blocked_exactly_by_flags(cart)


async def test_stock_below_the_quantity_is_insufficient_stock_with_what_is_available(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    await add_item(client, member, "shirt-red-m", 3)
    await patch_variant(client, settings, "shirt-red-m", stock=1)
    cart = await read_cart(client, member)
    [line] = cart["items"]
    assert (line["flags"], line["available_quantity"]) == (["insufficient_stock"], 1)
    assert issues(cart) == [(line["id"], "insufficient_stock")]
    assert "1" in cart["issues"][0]["message"]
    assert_blocked_exactly_by_flags(cart)


async def test_stock_equal_to_the_quantity_is_no_flag(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    await add_item(client, member, "shirt-red-m", 3)
    await patch_variant(client, settings, "shirt-red-m", stock=3)
    cart = await read_cart(client, member)
    assert (cart["items"][0]["flags"], cart["checkout_blocked"]) == ([], False)


async def test_an_inactive_variant_is_unavailable(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    await add_item(client, member, "shirt-red-m")
    await add_item(client, member, "shirt-blue-m")
    await patch_variant(client, settings, "shirt-red-m", status="inactive")
    cart = await read_cart(client, member)
    assert item(cart, "shirt-red-m")["flags"] == ["unavailable"]
    assert item(cart, "shirt-blue-m")["flags"] == []
    assert issues(cart) == [(item(cart, "shirt-red-m")["id"], "unavailable")]
    assert_blocked_exactly_by_flags(cart)


async def test_an_inactive_product_makes_all_its_lines_unavailable(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    await add_item(client, member, "shirt-red-m")
    await add_item(client, member, "shirt-blue-l")
    await shirt(client, settings, status="inactive")
    cart = await read_cart(client, member)
    assert [line["flags"] for line in cart["items"]] == [["unavailable"], ["unavailable"]]
    assert len(cart["issues"]) == 2
    assert_blocked_exactly_by_flags(cart)


async def test_a_variant_dropped_from_the_product_is_unavailable(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    await add_item(client, member, "shirt-red-m")
    await add_item(client, member, "shirt-blue-m")
    without_red_m = make_product(
        make_variant("shirt-red-l", color="red", size="L"),
        make_variant("shirt-blue-m", color="blue", size="M"),
    )
    await put_product(client, settings, "shirt", without_red_m)
    cart = await read_cart(client, member)
    assert item(cart, "shirt-red-m")["flags"] == ["unavailable"]
    assert item(cart, "shirt-blue-m")["flags"] == []
    assert_blocked_exactly_by_flags(cart)


async def test_a_max_quantity_lowered_below_the_line_is_quantity_out_of_range(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings, max_quantity=10)
    await add_item(client, member, "shirt-red-m", 6)
    await add_item(client, member, "shirt-blue-m", 2)
    await shirt(client, settings, max_quantity=5)
    cart = await read_cart(client, member)
    red = item(cart, "shirt-red-m")
    assert (red["flags"], red["max_quantity"]) == (["quantity_out_of_range"], 5)
    assert item(cart, "shirt-blue-m")["flags"] == []
    assert issues(cart) == [(red["id"], "quantity_out_of_range")]
    assert_blocked_exactly_by_flags(cart)


async def test_a_min_quantity_raised_above_the_line_is_quantity_out_of_range(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    await add_item(client, member, "shirt-red-m", 1)
    await shirt(client, settings, min_quantity=2)
    cart = await read_cart(client, member)
    line = cart["items"][0]
    assert (line["flags"], line["min_quantity"]) == (["quantity_out_of_range"], 2)
    assert_blocked_exactly_by_flags(cart)


async def test_a_line_with_several_problems_has_one_issue_per_flag(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    await add_item(client, member, "shirt-red-m", 4)
    await add_item(client, member, "shirt-blue-m", 1)
    await patch_variant(client, settings, "shirt-red-m", price=2500, stock=2)
    cart = await read_cart(client, member)
    red = item(cart, "shirt-red-m")
    assert sorted(red["flags"]) == ["insufficient_stock", "price_changed"]
    assert sorted(issues(cart)) == [(red["id"], "insufficient_stock"), (red["id"], "price_changed")]
    assert_blocked_exactly_by_flags(cart)


async def test_flags_clear_when_the_catalog_recovers(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    await add_item(client, member, "shirt-red-m", 2)
    await patch_variant(client, settings, "shirt-red-m", stock=0, price=999)
    assert (await read_cart(client, member))["checkout_blocked"] is True
    await patch_variant(client, settings, "shirt-red-m", stock=5, price=1999)
    cart = await read_cart(client, member)
    assert (cart["items"][0]["flags"], cart["issues"], cart["checkout_blocked"]) == ([], [], False)


async def test_flags_are_reevaluated_on_writes_too(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    await add_item(client, member, "shirt-red-m", 2)
    await patch_variant(client, settings, "shirt-red-m", price=2199)
    cart = await add_item(client, member, "shirt-blue-l")
    assert item(cart, "shirt-red-m")["flags"] == ["price_changed"]
    assert item(cart, "shirt-blue-l")["flags"] == []
    assert_blocked_exactly_by_flags(cart)


async def test_adding_more_to_a_line_keeps_its_snapshot_price(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings, price=1999)
    await add_item(client, member, "shirt-red-m", 1)
    await patch_variant(client, settings, "shirt-red-m", price=2199)
    cart = await add_item(client, member, "shirt-red-m", 2)
    [line] = cart["items"]
    assert (line["quantity"], line["unit_price"], line["current_unit_price"]) == (3, 1999, 2199)
    assert line["flags"] == ["price_changed"]
    assert cart["totals"]["total"] == 3 * 1999


async def test_the_flags_of_a_guest_cart_follow_the_catalog_too(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    added = await client.post(
        "/v1/cart/items", json={"product_id": "shirt", "variant_id": "shirt-red-m"}
    )
    guest = {"X-Cart-Token": added.headers["X-Cart-Token"]}
    await patch_variant(client, settings, "shirt-red-m", stock=0)
    cart = await read_cart(client, guest)
    assert cart["items"][0]["flags"] == ["out_of_stock"]
    assert_blocked_exactly_by_flags(cart)
