"""Which line and whose: unknown and foreign items, bad ids and bodies, deleting lines."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from aimall_cart.config import Settings
from tests.answers import add_line, cart_of, lines, patch_line, problem_of, read_cart
from tests.builders import bearer, shirt

# --- which item, and whose -----------------------------------------------------------------


async def test_patching_an_unknown_item_is_item_not_found(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    await add_line(client, member, "shirt-red-m")
    response = await patch_line(client, member, str(uuid.uuid4()), quantity=2)
    problem_of(response, 404, "item_not_found")


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
async def test_another_callers_item_is_item_not_found_and_stays_as_it_was(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str], method: str
) -> None:
    await shirt(client, settings)
    theirs = await add_line(client, member, "shirt-red-m", 2)
    other_member = bearer(settings, "u-2")
    guest_response = await client.post(
        "/v1/cart/items", json={"product_id": "shirt", "variant_id": "shirt-blue-m"}
    )
    guest = {"X-Cart-Token": guest_response.headers["X-Cart-Token"]}
    await add_line(client, other_member, "shirt-blue-l")
    for caller in (other_member, guest):
        body = {"quantity": 1} if method == "PATCH" else None
        response = await client.request(
            method, f"/v1/cart/items/{theirs['id']}", json=body, headers=caller
        )
        problem_of(response, 404, "item_not_found")
    assert lines(await read_cart(client, member)) == [("shirt-red-m", 2)]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="empty"),
        pytest.param({"quantity": None}, id="null-quantity"),
        pytest.param({"quantity": -1}, id="negative"),
        pytest.param({"unit_price": 1}, id="price-from-client"),
    ],
)
async def test_a_patch_without_a_valid_change_is_a_validation_error(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str], body: dict[str, Any]
) -> None:
    await shirt(client, settings)
    line = await add_line(client, member, "shirt-red-m")
    response = await client.patch(f"/v1/cart/items/{line['id']}", json=body, headers=member)
    problem_of(response, 422, "validation_error")


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
async def test_a_malformed_item_id_is_a_validation_error(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str], method: str
) -> None:
    await shirt(client, settings)
    await add_line(client, member, "shirt-red-m")
    body = {"quantity": 1} if method == "PATCH" else None
    response = await client.request(method, "/v1/cart/items/not-a-uuid", json=body, headers=member)
    problem_of(response, 422, "validation_error")


# --- DELETE /v1/cart/items/{item_id} and DELETE /v1/cart/items ------------------------------


async def test_deleting_an_item_removes_only_that_line(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    gone = await add_line(client, member, "shirt-red-m", 2)
    await add_line(client, member, "shirt-blue-l", 1)
    cart = cart_of(await client.delete(f"/v1/cart/items/{gone['id']}", headers=member))
    assert lines(cart) == [("shirt-blue-l", 1)]
    assert cart["totals"]["item_count"] == 1
    again = await client.delete(f"/v1/cart/items/{gone['id']}", headers=member)
    problem_of(again, 404, "item_not_found")


async def test_deleting_all_items_empties_the_cart_and_keeps_it(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    await add_line(client, member, "shirt-red-m", 2)
    await add_line(client, member, "shirt-blue-l", 1)
    cart_id = (await read_cart(client, member))["id"]
    cart = cart_of(await client.delete("/v1/cart/items", headers=member))
    assert (cart["id"], cart["status"], cart["items"]) == (cart_id, "active", [])
    assert cart["totals"] == {"subtotal": 0, "discount": 0, "total": 0, "item_count": 0}
    assert (cart["checkout_blocked"], cart["issues"]) == (False, [])
    assert await read_cart(client, member) == cart


async def test_a_guest_changes_its_cart_with_its_token(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    added = await client.post(
        "/v1/cart/items", json={"product_id": "shirt", "variant_id": "shirt-red-m"}
    )
    guest = {"X-Cart-Token": added.headers["X-Cart-Token"]}
    item_id = added.json()["items"][0]["id"]
    patched = cart_of(await patch_line(client, guest, item_id, quantity=3))
    assert lines(patched) == [("shirt-red-m", 3)]
    assert cart_of(await client.delete(f"/v1/cart/items/{item_id}", headers=guest))["items"] == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/v1/cart/items/{item}", {"quantity": 1}),
        ("DELETE", "/v1/cart/items/{item}", None),
        ("DELETE", "/v1/cart/items", None),
    ],
)
@pytest.mark.parametrize("who", ["anonymous", "guest-token", "member"])
async def test_changing_items_without_a_cart_is_cart_not_found(
    client: httpx.AsyncClient,
    settings: Settings,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    who: str,
) -> None:
    headers = {
        "anonymous": {},
        "guest-token": {"X-Cart-Token": "t" * 43},
        "member": bearer(settings, "u-9"),
    }[who]
    url = path.format(item=uuid.uuid4())
    response = await client.request(method, url, json=body, headers=headers)
    problem_of(response, 404, "cart_not_found")
