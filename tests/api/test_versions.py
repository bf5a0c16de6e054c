"""Cart versions, `ETag` and `If-Match` across every cart mutation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from aimall_cart.config import Settings
from tests.answers import Headers, cart_of, merged, post_item, problem_of, quantities_of, read_cart
from tests.builders import bearer, shirt


@dataclass(frozen=True, slots=True)
class Carts:
    """A member's cart holding shirt-red-m x2 and shirt-blue-m x1, and a guest cart to merge."""

    member: Headers
    guest: Headers
    cart: dict[str, Any]

    def item_id(self, variant_id: str) -> str:
        item_id: str = next(i["id"] for i in self.cart["items"] if i["variant_id"] == variant_id)
        return item_id


Mutation = Callable[[httpx.AsyncClient, Carts, Headers], Awaitable[httpx.Response]]


def add_new_line(
    client: httpx.AsyncClient, carts: Carts, extra: Headers
) -> Awaitable[httpx.Response]:
    body = {"product_id": "shirt", "variant_id": "shirt-blue-l", "quantity": 1}
    return client.post("/v1/cart/items", json=body, headers={**carts.member, **extra})


def add_to_a_line(
    client: httpx.AsyncClient, carts: Carts, extra: Headers
) -> Awaitable[httpx.Response]:
    body = {"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 1}
    return client.post("/v1/cart/items", json=body, headers={**carts.member, **extra})


def patch_item(
    client: httpx.AsyncClient, carts: Carts, extra: Headers
) -> Awaitable[httpx.Response]:
    return client.patch(
        f"/v1/cart/items/{carts.item_id('shirt-red-m')}",
        json={"quantity": 4},
        headers={**carts.member, **extra},
    )


def delete_item(
    client: httpx.AsyncClient, carts: Carts, extra: Headers
) -> Awaitable[httpx.Response]:
    return client.delete(
        f"/v1/cart/items/{carts.item_id('shirt-red-m')}", headers={**carts.member, **extra}
    )


def delete_items(
    client: httpx.AsyncClient, carts: Carts, extra: Headers
) -> Awaitable[httpx.Response]:
    return client.delete("/v1/cart/items", headers={**carts.member, **extra})


def merge(client: httpx.AsyncClient, carts: Carts, extra: Headers) -> Awaitable[httpx.Response]:
    headers = {**carts.member, **carts.guest, **extra}
    return client.post("/v1/cart/merge", json={"strategy": "sum"}, headers=headers)


MUTATIONS: dict[str, Mutation] = {
    "post_items_new_line": add_new_line,
    "post_items_existing_line": add_to_a_line,
    "patch_item": patch_item,
    "delete_item": delete_item,
    "delete_items": delete_items,
    "merge": merge,
}
# What each mutation leaves in the member's cart, from red-m x2, blue-m x1 (the guest has red-l x3).
OUTCOMES: dict[str, dict[str, int]] = {
    "post_items_new_line": {"shirt-red-m": 2, "shirt-blue-m": 1, "shirt-blue-l": 1},
    "post_items_existing_line": {"shirt-red-m": 3, "shirt-blue-m": 1},
    "patch_item": {"shirt-red-m": 4, "shirt-blue-m": 1},
    "delete_item": {"shirt-blue-m": 1},
    "delete_items": {},
    "merge": {"shirt-red-m": 2, "shirt-blue-m": 1, "shirt-red-l": 3},
}
mutations = pytest.mark.parametrize("mutation", list(MUTATIONS))


def mutated_cart(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The cart a mutation answers: a merge's is under `cart`, beside its report."""
    assert response.status_code == status, response.text
    if "merge" in response.json():
        return merged(response, status)[0]
    return cart_of(response, status)


@pytest.fixture
async def carts(client: httpx.AsyncClient, settings: Settings) -> Carts:
    await shirt(client, settings)
    member = bearer(settings, "u-1")
    assert (await client.post("/v1/cart", headers=member)).status_code == 201
    await post_item(client, member, "shirt-red-m", 2)
    await post_item(client, member, "shirt-blue-m", 1)
    created = await client.post("/v1/cart")
    guest = {"X-Cart-Token": created.headers["X-Cart-Token"]}
    await post_item(client, guest, "shirt-red-l", 3)
    return Carts(member=member, guest=guest, cart=await read_cart(client, member))


# --- every mutation moves the version on by one ---------------------------------------------


async def test_each_mutation_bumps_the_version_by_exactly_one_and_the_etag_follows(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    member = bearer(settings, "u-1")
    versions = [cart_of(await client.post("/v1/cart", headers=member), 201)["version"]]

    async def step(response: httpx.Response, status: int = 200) -> dict[str, Any]:
        cart = mutated_cart(response, status)
        versions.append(cart["version"])
        assert await read_cart(client, member) == cart
        return cart

    body = {"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 1}
    cart = await step(await client.post("/v1/cart/items", json=body, headers=member), 201)
    await step(await client.post("/v1/cart/items", json=body, headers=member))
    item = f"/v1/cart/items/{cart['items'][0]['id']}"
    await step(await client.patch(item, json={"quantity": 5}, headers=member))
    await step(await client.patch(item, json={"options": {"size": "L"}}, headers=member))
    await step(await client.delete(item, headers=member))
    body["variant_id"] = "shirt-blue-m"
    await step(await client.post("/v1/cart/items", json=body, headers=member), 201)
    await step(await client.delete("/v1/cart/items", headers=member))
    created = await client.post("/v1/cart")
    guest = {"X-Cart-Token": created.headers["X-Cart-Token"]}
    await post_item(client, guest, "shirt-red-l", 3)
    merged = await step(await client.post("/v1/cart/merge", headers={**member, **guest}))

    assert versions == list(range(versions[0], versions[0] + 9))
    assert quantities_of(merged) == {"shirt-red-l": 3}


@mutations
async def test_a_mutation_without_if_match_applies_to_the_latest_version(
    client: httpx.AsyncClient, carts: Carts, mutation: str
) -> None:
    cart = mutated_cart(
        await MUTATIONS[mutation](client, carts, {}),
        201 if mutation == "post_items_new_line" else 200,
    )
    assert cart["version"] == carts.cart["version"] + 1
    assert quantities_of(cart) == OUTCOMES[mutation]
    assert await read_cart(client, carts.member) == cart


async def test_a_guest_carts_mutations_bump_its_version_and_honour_if_match(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    created = cart_of(await client.post("/v1/cart"), 201)
    guest = {"X-Cart-Token": created["guest_token"]}
    cart = cart_of(await post_item(client, guest, "shirt-red-m", 1), 201)
    assert cart["version"] == created["version"] + 1

    stale = {**guest, "If-Match": f'"{created["version"]}"'}
    body = {"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 1}
    response = await client.post("/v1/cart/items", json=body, headers=stale)
    problem_of(response, 412, "version_mismatch")
    assert await read_cart(client, guest) == cart

    current = {**guest, "If-Match": f'"{cart["version"]}"'}
    after = cart_of(await client.post("/v1/cart/items", json=body, headers=current))
    assert (after["version"], quantities_of(after)) == (cart["version"] + 1, {"shirt-red-m": 2})


# --- If-Match -------------------------------------------------------------------------------


@mutations
@pytest.mark.parametrize("offset", [-1, 1], ids=["older", "newer"])
async def test_a_stale_if_match_is_refused_and_leaves_both_carts_unchanged(
    client: httpx.AsyncClient, carts: Carts, mutation: str, offset: int
) -> None:
    guest_before = await read_cart(client, carts.guest)
    stale = {"If-Match": f'"{carts.cart["version"] + offset}"'}

    problem_of(await MUTATIONS[mutation](client, carts, stale), 412, "version_mismatch")

    assert await read_cart(client, carts.member) == carts.cart
    assert await read_cart(client, carts.guest) == guest_before


@mutations
@pytest.mark.parametrize("form", ["*", '"{v}"', 'W/"{v}"'], ids=["star", "strong", "weak"])
async def test_if_match_star_the_current_etag_or_its_weak_form_is_accepted(
    client: httpx.AsyncClient, carts: Carts, mutation: str, form: str
) -> None:
    if_match = {"If-Match": form.format(v=carts.cart["version"])}
    status = 201 if mutation == "post_items_new_line" else 200

    cart = mutated_cart(await MUTATIONS[mutation](client, carts, if_match), status)

    assert cart["version"] == carts.cart["version"] + 1
    assert quantities_of(cart) == OUTCOMES[mutation]
    assert await read_cart(client, carts.member) == cart


@mutations
async def test_a_garbage_if_match_is_refused_as_version_mismatch(
    client: httpx.AsyncClient, carts: Carts, mutation: str
) -> None:
    garbage = {"If-Match": "not-an-etag"}
    problem_of(await MUTATIONS[mutation](client, carts, garbage), 412, "version_mismatch")
    assert await read_cart(client, carts.member) == carts.cart


@pytest.mark.parametrize(
    "if_match",
    ['"three"', '"{v}x"', "W/", "{v}.0", '"-{v}"', "**", 'W/"{v}" junk', '"' + "x" * 80 + '"'],
    ids=["word", "suffix", "bare_weak", "decimal", "negative", "stars", "trailing", "overlong"],
)
async def test_if_match_values_that_are_not_an_etag_are_refused(
    client: httpx.AsyncClient, carts: Carts, if_match: str
) -> None:
    garbage = {"If-Match": if_match.format(v=carts.cart["version"])}
    problem_of(await patch_item(client, carts, garbage), 412, "version_mismatch")
    assert await read_cart(client, carts.member) == carts.cart


async def test_after_a_refused_stale_write_the_fresh_etag_succeeds(
    client: httpx.AsyncClient, carts: Carts
) -> None:
    moved = cart_of(await delete_item(client, carts, {}))
    stale = {"If-Match": f'"{carts.cart["version"]}"'}
    problem_of(await add_new_line(client, carts, stale), 412, "version_mismatch")

    response = await add_new_line(client, carts, {"If-Match": f'"{moved["version"]}"'})
    cart = cart_of(response, 201)

    assert cart["version"] == moved["version"] + 1
    assert quantities_of(cart) == {"shirt-blue-m": 1, "shirt-blue-l": 1}


async def test_a_refused_mutation_does_not_bump_the_version(
    client: httpx.AsyncClient, carts: Carts
) -> None:
    red = f"/v1/cart/items/{carts.item_id('shirt-red-m')}"
    response = await client.patch(red, json={"quantity": 11}, headers=carts.member)
    problem_of(response, 422, "quantity_out_of_range")
    body = {"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 9}
    response = await client.post("/v1/cart/items", json=body, headers=carts.member)
    problem_of(response, 422, "quantity_out_of_range")
    assert await read_cart(client, carts.member) == carts.cart

    current = {"If-Match": f'"{carts.cart["version"]}"'}
    cart = cart_of(await patch_item(client, carts, current))
    assert cart["version"] == carts.cart["version"] + 1


async def test_if_match_when_there_is_no_cart_yet_is_refused_and_creates_none(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    member = {**bearer(settings, "u-1"), "If-Match": '"1"'}
    body = {"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 1}
    problem_of(
        await client.post("/v1/cart/items", json=body, headers=member), 412, "version_mismatch"
    )
    del member["If-Match"]
    problem_of(await client.get("/v1/cart", headers=member), 404, "cart_not_found")


async def test_a_repeated_merge_and_a_merge_preview_leave_the_version_alone(
    client: httpx.AsyncClient, carts: Carts
) -> None:
    preview = await client.post(
        "/v1/cart/merge", params={"preview": "true"}, headers={**carts.member, **carts.guest}
    )
    assert mutated_cart(preview)["version"] == carts.cart["version"]
    assert await read_cart(client, carts.member) == carts.cart

    merged = mutated_cart(await merge(client, carts, {}))
    again = mutated_cart(await merge(client, carts, {"If-Match": f'"{merged["version"]}"'}))

    assert merged["version"] == again["version"] == carts.cart["version"] + 1
    assert (await read_cart(client, carts.member))["version"] == merged["version"]
