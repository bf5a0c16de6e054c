from __future__ import annotations

import httpx

from aimall_cart.config import Settings
from tests.builders import shirt


async def test_guest_adds_an_item_and_reads_the_cart_with_its_token(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    added = await client.post(
        "/v1/cart/items", json={"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 2}
    )
    assert added.status_code == 201, added.text
    token = added.headers["X-Cart-Token"]
    assert added.json()["guest_token"] == token
    read = await client.get("/v1/cart", headers={"X-Cart-Token": token})
    assert read.status_code == 200
    assert read.json()["totals"]["total"] == 2 * 1999
    assert read.headers["ETag"] == f'"{read.json()["version"]}"'
