"""The catalog over HTTP: seller and admin writes, public reads, and every documented error."""

from __future__ import annotations

from typing import Any

import httpx

from aimall_cart.config import Settings
from tests.answers import problem_of
from tests.builders import admin, bearer, make_product, make_variant, put_product, shirt

SELLER = "seller-1"
OTHER_SELLER = "seller-2"


def seller(settings: Settings, seller_id: str = SELLER) -> dict[str, str]:
    return bearer(settings, f"user-{seller_id}", "seller", seller_id=seller_id)


def customer(settings: Settings) -> dict[str, str]:
    return bearer(settings, "customer-1")


def variants_by_id(product: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["variant_id"]: v for v in product["variants"]}


async def put(
    client: httpx.AsyncClient,
    product_id: str,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.put(f"/v1/catalog/products/{product_id}", json=body, headers=headers)


async def patch(
    client: httpx.AsyncClient, variant_id: str, body: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    return await client.patch(f"/v1/catalog/variants/{variant_id}", json=body, headers=headers)


async def list_ids(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get("/v1/catalog/products", params=params)
    assert response.status_code == 200, response.text
    return [p["id"] for p in response.json()["items"]]


# PUT /v1/catalog/products/{product_id}


async def test_put_creates_a_product_with_201(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    body = make_product(make_variant("p-1-red", price=2500, discount=300, stock=7, color="red"))
    response = await put(client, "p-1", body, admin(settings))
    assert response.status_code == 201, response.text
    product = response.json()
    assert product["id"] == "p-1"
    assert product["seller_id"] == SELLER
    assert product["name"] == "Linen Shirt"
    assert product["category"] == "apparel"
    assert product["currency"] == "USD"
    assert (product["min_quantity"], product["max_quantity"]) == (1, 10)
    assert product["variants"] == [
        {
            "variant_id": "p-1-red",
            "options": {"color": "red"},
            "price": 2500,
            "discount": 300,
            "status": "active",
            "stock": 7,
            "available": 7,
        }
    ]
    read = await client.get("/v1/catalog/products/p-1")
    assert read.status_code == 200
    assert read.json() == product


async def test_put_applies_default_quantity_bounds(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    body = make_product(make_variant("p-1-v"))
    del body["min_quantity"], body["max_quantity"]
    response = await put(client, "p-1", body, admin(settings))
    assert response.status_code == 201, response.text
    assert (response.json()["min_quantity"], response.json()["max_quantity"]) == (1, 99)


async def test_put_again_replaces_the_product_with_200(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    created = await put_product(client, settings, "p-1", make_product(make_variant("p-1-v")))
    body = make_product(
        make_variant("p-1-v", price=999, stock=3), name="Hemp Shirt", category="summer"
    )
    response = await put(client, "p-1", body, admin(settings))
    assert response.status_code == 200, response.text
    product = response.json()
    assert product["name"] == "Hemp Shirt"
    assert product["category"] == "summer"
    assert product["created_at"] == created["created_at"]
    variant = variants_by_id(product)["p-1-v"]
    assert (variant["price"], variant["stock"], variant["available"]) == (999, 3, 3)


async def test_put_marks_variants_left_out_inactive_without_deleting_them(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await put_product(
        client,
        settings,
        "p-1",
        make_product(make_variant("p-1-a", color="a"), make_variant("p-1-b", color="b")),
    )
    response = await put(
        client, "p-1", make_product(make_variant("p-1-a", color="a")), admin(settings)
    )
    assert response.status_code == 200, response.text
    variants = variants_by_id(response.json())
    assert variants["p-1-a"]["status"] == "active"
    assert variants["p-1-b"]["status"] == "inactive"
    read = await client.get("/v1/catalog/products/p-1")
    assert variants_by_id(read.json())["p-1-b"]["status"] == "inactive"


async def test_admin_replacing_without_seller_id_keeps_the_owner(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await put_product(client, settings, "p-1", make_product(seller_id=OTHER_SELLER))
    response = await put(client, "p-1", make_product(seller_id=None), admin(settings))
    assert response.status_code == 200, response.text
    assert response.json()["seller_id"] == OTHER_SELLER


async def test_seller_creates_own_product_with_seller_id_from_token(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await put(client, "p-1", make_product(seller_id=None), seller(settings))
    assert response.status_code == 201, response.text
    assert response.json()["seller_id"] == SELLER


async def test_seller_may_name_own_seller_id(client: httpx.AsyncClient, settings: Settings) -> None:
    response = await put(client, "p-1", make_product(seller_id=SELLER), seller(settings))
    assert response.status_code == 201, response.text
    assert response.json()["seller_id"] == SELLER


async def test_seller_replaces_own_product(client: httpx.AsyncClient, settings: Settings) -> None:
    await put(client, "p-1", make_product(seller_id=None), seller(settings))
    response = await put(
        client, "p-1", make_product(seller_id=None, name="Renamed"), seller(settings)
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Renamed"


async def test_seller_naming_another_seller_id_is_forbidden(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await put(client, "p-1", make_product(seller_id=OTHER_SELLER), seller(settings))
    problem_of(response, 403, "forbidden")
    problem_of(await client.get("/v1/catalog/products/p-1"), 404, "product_not_found")


async def test_seller_put_over_another_sellers_product_is_not_found_and_changes_nothing(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await put_product(client, settings, "p-1", make_product(seller_id=OTHER_SELLER))
    response = await put(
        client, "p-1", make_product(seller_id=None, name="Hijacked"), seller(settings)
    )
    problem_of(response, 404, "product_not_found")
    read = await client.get("/v1/catalog/products/p-1")
    assert read.json()["name"] == "Linen Shirt"
    assert read.json()["seller_id"] == OTHER_SELLER


async def test_admin_creating_without_seller_id_is_invalid(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await put(client, "p-1", make_product(seller_id=None), admin(settings))
    problem_of(response, 422, "invalid")
    problem_of(await client.get("/v1/catalog/products/p-1"), 404, "product_not_found")


async def test_customer_may_not_write_the_catalog(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await put(client, "p-1", make_product(), customer(settings))
    problem_of(response, 403, "forbidden")


async def test_put_without_token_is_unauthenticated(client: httpx.AsyncClient) -> None:
    response = await put(client, "p-1", make_product())
    problem_of(response, 401, "unauthenticated")


async def test_put_with_variant_of_another_product_is_a_variant_conflict(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await put_product(client, settings, "p-1", make_product(make_variant("shared-v")))
    response = await put(client, "p-2", make_product(make_variant("shared-v")), admin(settings))
    body = problem_of(response, 409, "variant_conflict")
    assert body.get("variant_ids") == ["shared-v"]
    problem_of(await client.get("/v1/catalog/products/p-2"), 404, "product_not_found")
    owner = await client.get("/v1/catalog/products/p-1")
    assert [v["variant_id"] for v in owner.json()["variants"]] == ["shared-v"]


async def test_put_with_discount_above_price_is_a_validation_error(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    body = make_product(make_variant("p-1-v", price=500, discount=501))
    body_problem = problem_of(
        await put(client, "p-1", body, admin(settings)), 422, "validation_error"
    )
    assert body_problem["errors"]


async def test_put_with_duplicate_variant_ids_is_a_validation_error(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    body = make_product(make_variant("p-1-v", color="red"), make_variant("p-1-v", color="blue"))
    problem_of(await put(client, "p-1", body, admin(settings)), 422, "validation_error")


async def test_put_with_min_quantity_above_max_is_a_validation_error(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    body = make_product(min_quantity=5, max_quantity=4)
    problem_of(await put(client, "p-1", body, admin(settings)), 422, "validation_error")


async def test_put_with_unknown_field_is_a_validation_error(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    body = make_product() | {"colour": "red"}
    problem_of(await put(client, "p-1", body, admin(settings)), 422, "validation_error")


# PATCH /v1/catalog/variants/{variant_id}


async def test_patch_changes_price_and_discount(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings, price=2000, discount=100)
    response = await patch(client, "shirt-red-m", {"price": 1500}, admin(settings))
    assert response.status_code == 200, response.text
    variant = variants_by_id(response.json())["shirt-red-m"]
    assert (variant["price"], variant["discount"]) == (1500, 100)

    response = await patch(client, "shirt-red-m", {"discount": 400}, admin(settings))
    assert response.status_code == 200, response.text
    variant = variants_by_id(response.json())["shirt-red-m"]
    assert (variant["price"], variant["discount"]) == (1500, 400)
    untouched = variants_by_id(response.json())["shirt-red-l"]
    assert (untouched["price"], untouched["discount"]) == (2000, 100)


async def test_patch_stock_sets_units_on_hand_and_available(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings, stock=10)
    response = await patch(client, "shirt-red-m", {"stock": 3}, admin(settings))
    assert response.status_code == 200, response.text
    variant = variants_by_id(response.json())["shirt-red-m"]
    assert (variant["stock"], variant["available"]) == (3, 3)
    read = await client.get("/v1/catalog/products/shirt")
    variant = variants_by_id(read.json())["shirt-red-m"]
    assert (variant["stock"], variant["available"]) == (3, 3)


async def test_patch_status_deactivates_a_variant(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    response = await patch(client, "shirt-red-m", {"status": "inactive"}, admin(settings))
    assert response.status_code == 200, response.text
    assert variants_by_id(response.json())["shirt-red-m"]["status"] == "inactive"
    response = await patch(client, "shirt-red-m", {"status": "active"}, admin(settings))
    assert variants_by_id(response.json())["shirt-red-m"]["status"] == "active"


async def test_seller_patches_own_variant(client: httpx.AsyncClient, settings: Settings) -> None:
    await shirt(client, settings, seller_id=SELLER)
    response = await patch(client, "shirt-red-m", {"price": 1234}, seller(settings))
    assert response.status_code == 200, response.text
    assert variants_by_id(response.json())["shirt-red-m"]["price"] == 1234


async def test_patch_leaving_discount_above_price_is_invalid_price_and_changes_nothing(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings, price=1000, discount=300)
    response = await patch(client, "shirt-red-m", {"price": 200}, admin(settings))
    problem_of(response, 422, "invalid_price")
    response = await patch(client, "shirt-red-m", {"discount": 1001}, admin(settings))
    problem_of(response, 422, "invalid_price")
    read = await client.get("/v1/catalog/products/shirt")
    variant = variants_by_id(read.json())["shirt-red-m"]
    assert (variant["price"], variant["discount"]) == (1000, 300)


async def test_patch_unknown_variant_is_not_found(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await patch(client, "no-such-variant", {"price": 1}, admin(settings))
    problem_of(response, 404, "variant_not_found")


async def test_patch_another_sellers_variant_is_not_found_and_changes_nothing(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings, price=1999, seller_id=OTHER_SELLER)
    response = await patch(client, "shirt-red-m", {"price": 1}, seller(settings))
    problem_of(response, 404, "variant_not_found")
    read = await client.get("/v1/catalog/products/shirt")
    assert variants_by_id(read.json())["shirt-red-m"]["price"] == 1999


async def test_customer_may_not_patch_a_variant(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    response = await patch(client, "shirt-red-m", {"price": 1}, customer(settings))
    problem_of(response, 403, "forbidden")


async def test_patch_with_negative_stock_is_a_validation_error(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    response = await patch(client, "shirt-red-m", {"stock": -1}, admin(settings))
    problem_of(response, 422, "validation_error")


# GET /v1/catalog/products[/{product_id}]


async def test_get_unknown_product_is_not_found(client: httpx.AsyncClient) -> None:
    problem_of(await client.get("/v1/catalog/products/nope"), 404, "product_not_found")


async def test_reads_need_no_credentials_and_show_stock_and_available(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings, stock=4)
    read = await client.get("/v1/catalog/products/shirt")
    assert read.status_code == 200
    assert {(v["variant_id"], v["stock"], v["available"]) for v in read.json()["variants"]} == {
        ("shirt-red-m", 4, 4),
        ("shirt-red-l", 4, 4),
        ("shirt-blue-m", 4, 4),
        ("shirt-blue-l", 4, 4),
    }
    listed = await client.get("/v1/catalog/products")
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert {v["available"] for v in item["variants"]} == {4}


async def test_list_filters_by_category(client: httpx.AsyncClient, settings: Settings) -> None:
    await put_product(client, settings, "p-1", make_product(make_variant("v-1"), category="a"))
    await put_product(client, settings, "p-2", make_product(make_variant("v-2"), category="b"))
    await put_product(client, settings, "p-3", make_product(make_variant("v-3"), category="a"))
    assert await list_ids(client, category="a") == ["p-1", "p-3"]
    assert await list_ids(client, category="b") == ["p-2"]
    assert await list_ids(client, category="c") == []
    assert await list_ids(client) == ["p-1", "p-2", "p-3"]


async def test_list_q_matches_names_ignoring_case(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await put_product(
        client, settings, "p-1", make_product(make_variant("v-1"), name="Linen Shirt")
    )
    await put_product(
        client, settings, "p-2", make_product(make_variant("v-2"), name="linen Pants")
    )
    await put_product(client, settings, "p-3", make_product(make_variant("v-3"), name="Wool Coat"))
    assert await list_ids(client, q="linen") == ["p-1", "p-2"]
    assert await list_ids(client, q="LINEN s") == ["p-1"]
    assert await list_ids(client, q="wOOL") == ["p-3"]
    assert await list_ids(client, q="silk") == []


async def test_list_q_matches_words_inside_the_name(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await put_product(
        client, settings, "p-1", make_product(make_variant("v-1"), name="Linen Shirt")
    )
    assert await list_ids(client, q="shirt") == ["p-1"]
    assert await list_ids(client, q="skirt") == []


async def test_list_q_treats_percent_and_underscore_literally(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    names = {"p-1": "100% Cotton", "p-2": "1000 Threads", "p-3": "my_shirt", "p-4": "myXshirt"}
    for product_id, name in names.items():
        body = make_product(make_variant(f"{product_id}-v"), name=name)
        await put_product(client, settings, product_id, body)
    assert await list_ids(client, q="100%") == ["p-1"]
    assert await list_ids(client, q="my_") == ["p-3"]
    # A bare wildcard matches only names that hold that character, never every name.
    assert "p-2" not in await list_ids(client, q="%")
    assert set(await list_ids(client, q="_")) <= {"p-3"}


async def test_list_pages_with_a_cursor_without_duplicates_or_gaps(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    expected = [f"p-{n:02d}" for n in range(1, 6)]
    for product_id in expected:
        await put_product(
            client, settings, product_id, make_product(make_variant(f"{product_id}-v"))
        )
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await client.get("/v1/catalog/products", params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= 2
        seen += [p["id"] for p in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert len(set(seen)) == len(seen)


async def test_list_leaves_out_inactive_products(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await put_product(client, settings, "p-1", make_product(make_variant("v-1")))
    await put_product(client, settings, "p-2", make_product(make_variant("v-2"), status="inactive"))
    await put_product(client, settings, "p-3", make_product(make_variant("v-3")))
    assert await list_ids(client) == ["p-1", "p-3"]
    assert await list_ids(client, limit=1, cursor="p-1") == ["p-3"]
    # An inactive product is still readable by id, so carts can say it is unavailable.
    read = await client.get("/v1/catalog/products/p-2")
    assert read.status_code == 200
    assert read.json()["status"] == "inactive"


async def test_list_with_invalid_limit_is_a_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/catalog/products", params={"limit": 0})
    problem_of(response, 422, "validation_error")
