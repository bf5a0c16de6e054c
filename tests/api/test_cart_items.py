"""Creating and reading the caller's cart, and adding items to it: ``/v1/cart``."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from aimall_cart.config import Settings
from tests.answers import cart_of, problem_of
from tests.builders import bearer, make_product, make_variant, put_product, shirt


async def guest_cart(client: httpx.AsyncClient, **item: Any) -> dict[str, str]:
    """A guest cart holding one item; answers the guest's headers."""
    response = await client.post("/v1/cart/items", json=item)
    assert response.status_code == 201, response.text
    return {"X-Cart-Token": response.headers["X-Cart-Token"]}


# --- POST /v1/cart and GET /v1/cart ---------------------------------------------------------


async def test_guest_create_answers_201_with_a_new_token_in_body_and_header(
    client: httpx.AsyncClient,
) -> None:
    first = await client.post("/v1/cart")
    second = await client.post("/v1/cart")
    body = cart_of(first, 201)
    token = first.headers["X-Cart-Token"]
    assert body["guest_token"] == token
    assert len(token) >= 22  # at least 128 random bits, URL-safe base64
    assert body["owner"]["type"] == "guest"
    assert (body["status"], body["items"], body["version"]) == ("active", [], 1)
    assert body["totals"] == {"subtotal": 0, "discount": 0, "total": 0, "item_count": 0}
    assert body["checkout_blocked"] is False
    assert cart_of(second, 201)["id"] != body["id"]
    assert second.headers["X-Cart-Token"] != token


async def test_member_create_answers_201_then_200_with_the_same_active_cart(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    member = bearer(settings, "u-1")
    created = cart_of(await client.post("/v1/cart", headers=member), 201)
    again = await client.post("/v1/cart", headers=member)
    assert cart_of(again, 200)["id"] == created["id"]
    assert created["owner"] == {"type": "member", "user_id": "u-1"}
    assert created["guest_token"] is None
    assert "X-Cart-Token" not in again.headers
    read = cart_of(await client.get("/v1/cart", headers=member))
    assert read["id"] == created["id"]


async def test_reading_without_credentials_is_cart_not_found(client: httpx.AsyncClient) -> None:
    problem_of(await client.get("/v1/cart"), 404, "cart_not_found")


async def test_reading_with_an_unknown_guest_token_is_cart_not_found(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/cart", headers={"X-Cart-Token": "no-such-token-" + "x" * 30})
    problem_of(response, 404, "cart_not_found")


async def test_member_without_a_cart_reads_cart_not_found(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    problem_of(await client.get("/v1/cart", headers=bearer(settings, "u-1")), 404, "cart_not_found")


async def test_guest_reads_the_cart_its_token_names(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    mine = await guest_cart(client, product_id="shirt", variant_id="shirt-red-m")
    theirs = await guest_cart(client, product_id="shirt", variant_id="shirt-blue-l")
    read = cart_of(await client.get("/v1/cart", headers=mine))
    assert [i["variant_id"] for i in read["items"]] == ["shirt-red-m"]
    assert read["guest_token"] is None  # the token is shown only when it is issued
    other = cart_of(await client.get("/v1/cart", headers=theirs))
    assert [i["variant_id"] for i in other["items"]] == ["shirt-blue-l"]


async def test_member_reads_own_cart_and_another_member_never_sees_it(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    owner = bearer(settings, "u-1")
    added = await client.post(
        "/v1/cart/items", json={"product_id": "shirt", "variant_id": "shirt-red-m"}, headers=owner
    )
    cart = cart_of(added, 201)
    assert cart_of(await client.get("/v1/cart", headers=owner))["id"] == cart["id"]
    problem_of(await client.get("/v1/cart", headers=bearer(settings, "u-2")), 404, "cart_not_found")
    problem_of(await client.get("/v1/cart"), 404, "cart_not_found")


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/v1/cart"), ("POST", "/v1/cart"), ("POST", "/v1/cart/items")]
)
async def test_an_invalid_bearer_token_is_unauthenticated(
    client: httpx.AsyncClient, settings: Settings, method: str, path: str
) -> None:
    header = bearer(settings, "u-1")["Authorization"]
    tampered = {"Authorization": header[:-4] + ("AAAA" if header[-4:] != "AAAA" else "BBBB")}
    body = {"product_id": "shirt"} if path.endswith("items") else None
    response = await client.request(method, path, json=body, headers=tampered)
    problem_of(response, 401, "unauthenticated")


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/v1/cart/items"), ("PATCH", f"/v1/cart/items/{uuid.uuid4()}")]
)
async def test_bad_credentials_are_refused_before_a_bad_body_is_judged(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    headers = {"Authorization": "Basic dXNlcjpwYXNz"}
    response = await client.request(method, path, json={"quantity": "many"}, headers=headers)
    problem_of(response, 401, "unauthenticated")


# --- POST /v1/cart/items: a new cart, choosing the variant, lines ------------------------------


async def test_adding_without_a_cart_creates_a_guest_cart_with_the_line(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    response = await client.post(
        "/v1/cart/items", json={"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 2}
    )
    cart = cart_of(response, 201)
    assert cart["guest_token"] == response.headers["X-Cart-Token"]
    assert (cart["owner"]["type"], cart["currency"], cart["version"]) == ("guest", "USD", 2)
    [item] = cart["items"]
    assert item["product_id"] == "shirt"
    assert item["variant_id"] == "shirt-red-m"
    assert item["options"] == {"color": "red", "size": "M"}
    assert item["name"] == "Linen Shirt"
    assert (item["quantity"], item["min_quantity"], item["max_quantity"]) == (2, 1, 10)
    assert item["flags"] == []
    assert cart["totals"] == {"subtotal": 3998, "discount": 0, "total": 3998, "item_count": 2}


async def test_adding_with_a_token_that_names_no_cart_starts_a_cart_with_a_new_token(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    stale = {"X-Cart-Token": "stale-token-" + "x" * 32}
    response = await client.post(
        "/v1/cart/items",
        json={"product_id": "shirt", "variant_id": "shirt-red-m"},
        headers=stale,
    )
    cart = cart_of(response, 201)
    token = response.headers["X-Cart-Token"]
    assert token not in ("", stale["X-Cart-Token"])
    assert cart["guest_token"] == token
    assert (
        cart_of(await client.get("/v1/cart", headers={"X-Cart-Token": token}))["id"] == cart["id"]
    )


async def test_a_member_adding_without_a_cart_gets_a_member_cart_and_no_token(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    member = bearer(settings, "u-1")
    response = await client.post(
        "/v1/cart/items", json={"product_id": "shirt", "variant_id": "shirt-red-m"}, headers=member
    )
    cart = cart_of(response, 201)
    assert cart["owner"] == {"type": "member", "user_id": "u-1"}
    assert cart["guest_token"] is None
    assert "X-Cart-Token" not in response.headers


@pytest.mark.parametrize(
    ("options", "variant_id"),
    [
        ({"color": "blue", "size": "L"}, "shirt-blue-l"),
        ({"size": "L", "color": "red"}, "shirt-red-l"),
    ],
)
async def test_exact_options_choose_the_variant(
    client: httpx.AsyncClient, settings: Settings, options: dict[str, str], variant_id: str
) -> None:
    await shirt(client, settings)
    response = await client.post("/v1/cart/items", json={"product_id": "shirt", "options": options})
    [item] = cart_of(response, 201)["items"]
    assert item["variant_id"] == variant_id


async def test_partial_options_that_match_one_variant_choose_it(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    mug = make_product(
        make_variant("mug-white-m", color="white", size="M"),
        make_variant("mug-black-m", color="black", size="M"),
        make_variant("mug-black-l", color="black", size="L"),
    )
    await put_product(client, settings, "mug", mug)
    for options, variant_id in [
        ({"color": "white"}, "mug-white-m"),
        ({"size": "L"}, "mug-black-l"),
    ]:
        response = await client.post(
            "/v1/cart/items", json={"product_id": "mug", "options": options}
        )
        assert cart_of(response, 201)["items"][-1]["variant_id"] == variant_id


async def test_a_product_with_one_variant_needs_neither_variant_nor_options(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await put_product(client, settings, "pen", make_product(make_variant("pen-1", price=250)))
    response = await client.post("/v1/cart/items", json={"product_id": "pen", "quantity": 3})
    [item] = cart_of(response, 201)["items"]
    assert (item["variant_id"], item["quantity"], item["unit_price"]) == ("pen-1", 3, 250)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"options": {"color": "red"}}, id="ambiguous"),
        pytest.param({}, id="nothing-named-among-many"),
        pytest.param({"options": {"color": "green"}}, id="unknown-value"),
        pytest.param({"options": {"fabric": "silk"}}, id="unknown-option"),
        pytest.param({"options": {"color": "red", "size": "XL"}}, id="no-such-combination"),
        pytest.param({"variant_id": "hat-1"}, id="variant-of-another-product"),
        pytest.param({"variant_id": "shirt-green-s"}, id="unknown-variant"),
        pytest.param(
            {"variant_id": "shirt-red-m", "options": {"size": "L"}}, id="options-disagree-with-id"
        ),
    ],
)
async def test_options_that_do_not_name_exactly_one_variant_are_invalid_options(
    client: httpx.AsyncClient, settings: Settings, body: dict[str, Any]
) -> None:
    await shirt(client, settings)
    await put_product(client, settings, "hat", make_product(make_variant("hat-1")))
    response = await client.post("/v1/cart/items", json={"product_id": "shirt", **body})
    problem_of(response, 422, "invalid_options")
    assert "X-Cart-Token" not in response.headers


async def test_options_beside_a_variant_id_may_repeat_what_it_is(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    body = {"product_id": "shirt", "variant_id": "shirt-red-m", "options": {"size": "M"}}
    [item] = cart_of(await client.post("/v1/cart/items", json=body), 201)["items"]
    assert item["variant_id"] == "shirt-red-m"


async def test_the_same_variant_again_adds_to_its_line_with_200(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    guest = await guest_cart(client, product_id="shirt", variant_id="shirt-red-m", quantity=2)
    again = await client.post(
        "/v1/cart/items",
        json={"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 3},
        headers=guest,
    )
    by_options = await client.post(
        "/v1/cart/items",
        json={"product_id": "shirt", "options": {"color": "red", "size": "M"}},
        headers=guest,
    )
    assert [i["quantity"] for i in cart_of(again, 200)["items"]] == [5]
    cart = cart_of(by_options, 200)
    assert [(i["variant_id"], i["quantity"]) for i in cart["items"]] == [("shirt-red-m", 6)]
    assert "X-Cart-Token" not in again.headers


async def test_another_variant_starts_a_new_line_with_201(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    guest = await guest_cart(client, product_id="shirt", variant_id="shirt-red-m")
    response = await client.post(
        "/v1/cart/items", json={"product_id": "shirt", "variant_id": "shirt-red-l"}, headers=guest
    )
    cart = cart_of(response, 201)
    assert [i["variant_id"] for i in cart["items"]] == ["shirt-red-m", "shirt-red-l"]
    assert len({i["id"] for i in cart["items"]}) == 2
    assert cart["totals"]["item_count"] == 2
