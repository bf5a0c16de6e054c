"""Checks on what the cart API answers, and the requests the API tests keep repeating."""

from __future__ import annotations

from typing import Any

import httpx

from aimall_cart.config import Settings
from tests.builders import admin

Headers = dict[str, str]


def cart_of(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The cart in a successful response, whose ETag must be its version."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert response.headers["ETag"] == f'"{body["version"]}"'
    return body


def merged(response: httpx.Response, status: int = 200) -> tuple[dict[str, Any], dict[str, Any]]:
    """The cart and the merge report of a successful merge; the ETag is the cart's version."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body.keys() == {"cart", "merge"}
    assert response.headers["ETag"] == f'"{body["cart"]["version"]}"'
    return body["cart"], body["merge"]


def problem_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The problem details of a refusal: its status, its code and every required member."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail", "code"} <= body.keys()
    assert (body["status"], body["code"]) == (status, code)
    assert all(isinstance(body[key], str) and body[key] for key in ("type", "title", "detail"))
    return body


async def read_cart(client: httpx.AsyncClient, headers: Headers) -> dict[str, Any]:
    """The caller's cart, which must exist."""
    return cart_of(await client.get("/v1/cart", headers=headers))


def lines(cart: dict[str, Any]) -> list[tuple[str, int]]:
    """The cart's lines in order, as (variant id, quantity)."""
    return [(i["variant_id"], i["quantity"]) for i in cart["items"]]


def quantities_of(cart: dict[str, Any]) -> dict[str, int]:
    """The quantity of each variant in the cart, whatever the order of its lines."""
    return {item["variant_id"]: item["quantity"] for item in cart["items"]}


async def post_item(
    client: httpx.AsyncClient,
    headers: Headers,
    variant_id: str,
    quantity: int = 1,
    product_id: str = "shirt",
) -> httpx.Response:
    """Add a variant (of the shirt unless told); the add must succeed."""
    response = await client.post(
        "/v1/cart/items",
        json={"product_id": product_id, "variant_id": variant_id, "quantity": quantity},
        headers=headers,
    )
    assert response.status_code in (200, 201), response.text
    return response


async def add_item(
    client: httpx.AsyncClient, headers: Headers, variant_id: str, quantity: int = 1
) -> dict[str, Any]:
    """Add a shirt variant; answers the cart."""
    response = await post_item(client, headers, variant_id, quantity)
    return cart_of(response, response.status_code)


async def add_line(
    client: httpx.AsyncClient, headers: Headers, variant_id: str, quantity: int = 1
) -> dict[str, Any]:
    """Add a shirt variant; answers the line."""
    cart = await add_item(client, headers, variant_id, quantity)
    line: dict[str, Any] = next(i for i in cart["items"] if i["variant_id"] == variant_id)
    return line


async def patch_line(
    client: httpx.AsyncClient, headers: Headers, item_id: str, **change: Any
) -> httpx.Response:
    return await client.patch(f"/v1/cart/items/{item_id}", json=change, headers=headers)


async def stock_of(
    client: httpx.AsyncClient, variant_id: str, product_id: str = "shirt"
) -> tuple[int, int]:
    """(units on hand, units free) of a variant, as the catalog shows them."""
    response = await client.get(f"/v1/catalog/products/{product_id}")
    assert response.status_code == 200, response.text
    variant = next(v for v in response.json()["variants"] if v["variant_id"] == variant_id)
    return variant["stock"], variant["available"]


async def patch_variant(
    client: httpx.AsyncClient, settings: Settings, variant_id: str, **change: Any
) -> None:
    """Change a variant as an admin; the change must succeed."""
    response = await client.patch(
        f"/v1/catalog/variants/{variant_id}", json=change, headers=admin(settings)
    )
    assert response.status_code == 200, response.text


async def advance(client: httpx.AsyncClient, settings: Settings, seconds: float) -> dict[str, Any]:
    """Move the server's test clock forward; answers the clock as it now reads."""
    response = await client.post(
        "/v1/admin/clock/advance", json={"seconds": seconds}, headers=admin(settings)
    )
    assert response.status_code == 200, response.text
    clock: dict[str, Any] = response.json()
    return clock
