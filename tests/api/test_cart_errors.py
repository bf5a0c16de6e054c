"""The conventions every cart request follows: versions and If-Match, problem details, body limit,
request ids."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from aimall_cart.config import Settings
from tests.answers import cart_of, problem_of, read_cart
from tests.builders import bearer, shirt

BODY_LIMIT = 64 * 1024


async def member_cart(client: httpx.AsyncClient, settings: Settings) -> dict[str, str]:
    """A member whose cart holds shirt-red-m x2 and shirt-blue-l x1, at version 3."""
    await shirt(client, settings)
    member = bearer(settings, "u-1")
    for variant_id, quantity in (("shirt-red-m", 2), ("shirt-blue-l", 1)):
        response = await client.post(
            "/v1/cart/items",
            json={"product_id": "shirt", "variant_id": variant_id, "quantity": quantity},
            headers=member,
        )
        assert response.status_code == 201, response.text
    assert (await read_cart(client, member))["version"] == 3
    return member


def mutations(cart: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any] | None]]:
    first = cart["items"][0]["id"]
    return {
        "add": ("POST", "/v1/cart/items", {"product_id": "shirt", "variant_id": "shirt-red-l"}),
        "patch": ("PATCH", f"/v1/cart/items/{first}", {"quantity": 3}),
        "delete-item": ("DELETE", f"/v1/cart/items/{first}", None),
        "clear": ("DELETE", "/v1/cart/items", None),
    }


MUTATIONS = ["add", "patch", "delete-item", "clear"]


# --- versions and If-Match ------------------------------------------------------------------


@pytest.mark.parametrize("mutation", MUTATIONS)
async def test_a_stale_if_match_is_version_mismatch_and_changes_nothing(
    client: httpx.AsyncClient, settings: Settings, mutation: str
) -> None:
    member = await member_cart(client, settings)
    before = await read_cart(client, member)
    method, url, body = mutations(before)[mutation]
    headers = {**member, "If-Match": '"2"'}
    response = await client.request(method, url, json=body, headers=headers)
    problem_of(response, 412, "version_mismatch")
    assert await read_cart(client, member) == before


@pytest.mark.parametrize("mutation", MUTATIONS)
async def test_the_current_version_in_if_match_lets_the_change_through(
    client: httpx.AsyncClient, settings: Settings, mutation: str
) -> None:
    member = await member_cart(client, settings)
    before = await read_cart(client, member)
    method, url, body = mutations(before)[mutation]
    headers = {**member, "If-Match": '"3"'}
    response = await client.request(method, url, json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    assert cart_of(response, response.status_code)["version"] == 4


async def test_if_match_without_a_cart_is_version_mismatch(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    member = bearer(settings, "u-1")
    response = await client.post(
        "/v1/cart/items",
        json={"product_id": "shirt", "variant_id": "shirt-red-m"},
        headers={**member, "If-Match": '"1"'},
    )
    problem_of(response, 412, "version_mismatch")
    problem_of(await client.get("/v1/cart", headers=member), 404, "cart_not_found")


async def test_every_mutation_bumps_the_version_by_one_and_reads_do_not(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    created = await client.post("/v1/cart")
    guest = {"X-Cart-Token": created.headers["X-Cart-Token"]}
    versions = [cart_of(created, 201)["version"]]

    async def step(method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await client.request(method, url, json=body, headers=guest)
        cart = cart_of(response, response.status_code)
        versions.append(cart["version"])
        return cart

    red = {"product_id": "shirt", "variant_id": "shirt-red-m"}
    item_id = (await step("POST", "/v1/cart/items", red))["items"][0]["id"]
    await step("POST", "/v1/cart/items", red)
    await step("POST", "/v1/cart/items", {"product_id": "shirt", "variant_id": "shirt-blue-l"})
    await step("PATCH", f"/v1/cart/items/{item_id}", {"quantity": 4})
    await step("PATCH", f"/v1/cart/items/{item_id}", {"options": {"size": "L"}})
    await step("DELETE", f"/v1/cart/items/{item_id}")
    await step("DELETE", "/v1/cart/items")
    assert versions == list(range(1, 9))
    assert (await read_cart(client, guest))["version"] == 8
    assert (await read_cart(client, guest))["version"] == 8


# --- problem details ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/cart/items", "/v1/cart/items/{item}"])
@pytest.mark.parametrize("content", [b'{"product_id": "shirt",', b"[]", b"not json", b""])
async def test_a_body_that_is_not_a_json_object_is_a_validation_error(
    client: httpx.AsyncClient, settings: Settings, path: str, content: bytes
) -> None:
    member = await member_cart(client, settings)
    item = (await read_cart(client, member))["items"][0]["id"]
    method = "POST" if path.endswith("items") else "PATCH"
    response = await client.request(
        method,
        path.format(item=item),
        content=content,
        headers={**member, "Content-Type": "application/json"},
    )
    problem_of(response, 422, "validation_error")


async def test_validation_errors_name_the_fields_at_fault(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/cart/items", json={"quantity": "many"})
    body = problem_of(response, 422, "validation_error")
    locations = [error["loc"] for error in body["errors"]]
    assert ["body", "product_id"] in locations
    assert ["body", "quantity"] in locations


async def test_a_method_the_cart_does_not_have_is_a_problem(client: httpx.AsyncClient) -> None:
    problem_of(await client.put("/v1/cart", json={}), 405, "method_not_allowed")


# --- the body limit -------------------------------------------------------------------------


def padded(size: int) -> bytes:
    """A JSON add-item body of exactly ``size`` bytes (refused for its extra field, if read)."""
    head, tail = b'{"product_id": "shirt", "padding": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


async def test_a_body_over_64_kib_is_payload_too_large_and_changes_nothing(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    member = bearer(settings, "u-1")
    headers = {**member, "Content-Type": "application/json"}
    at_limit = await client.post("/v1/cart/items", content=padded(BODY_LIMIT), headers=headers)
    problem_of(at_limit, 422, "validation_error")
    over = await client.post("/v1/cart/items", content=padded(BODY_LIMIT + 1), headers=headers)
    problem_of(over, 413, "payload_too_large")
    problem_of(await client.get("/v1/cart", headers=member), 404, "cart_not_found")


async def test_a_streamed_body_over_64_kib_is_payload_too_large(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    member = await member_cart(client, settings)
    before = await read_cart(client, member)
    item = before["items"][0]["id"]
    body = padded(BODY_LIMIT + 4096)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    response = await client.patch(
        f"/v1/cart/items/{item}",
        content=chunks(),
        headers={**member, "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    problem_of(response, 413, "payload_too_large")
    assert await read_cart(client, member) == before


# --- request ids ----------------------------------------------------------------------------


async def test_a_given_request_id_is_echoed_on_success_and_on_errors(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    rid = {"X-Request-ID": "req-42.abc"}
    ok = await client.post(
        "/v1/cart/items", json={"product_id": "shirt", "variant_id": "shirt-red-m"}, headers=rid
    )
    missing = await client.get("/v1/cart", headers=rid)
    invalid = await client.post("/v1/cart/items", json={}, headers=rid)
    too_large = await client.post(
        "/v1/cart/items",
        content=padded(BODY_LIMIT + 1),
        headers={**rid, "Content-Type": "application/json"},
    )
    statuses = [r.status_code for r in (ok, missing, invalid, too_large)]
    assert statuses == [201, 404, 422, 413]
    assert {r.headers["X-Request-ID"] for r in (ok, missing, invalid, too_large)} == {"req-42.abc"}


async def test_a_request_id_is_generated_when_none_is_given(client: httpx.AsyncClient) -> None:
    first = await client.get("/v1/cart")
    second = await client.post("/v1/cart")
    ids = [first.headers.get("X-Request-ID"), second.headers.get("X-Request-ID")]
    assert all(ids)
    assert ids[0] != ids[1]
