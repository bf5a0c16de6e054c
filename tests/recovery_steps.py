"""Steps the recovery tests repeat: a policy, consenting shoppers, idle carts, passes."""

from __future__ import annotations

from typing import Any

import httpx

from aimall_cart.config import Settings
from tests.answers import advance
from tests.builders import admin, bearer

__all__ = ["advance"]  # the recovery tests take every step from here

Headers = dict[str, str]
HOUR = 3600.0


async def set_policy(
    client: httpx.AsyncClient, settings: Settings, **change: Any
) -> dict[str, Any]:
    """A policy the tests can reason about: everyone in the ai group, in-app only, no quiet
    hours, unless the test says otherwise."""
    body = {
        "inactivity_minutes": 60,
        "holdout_percent": 0,
        "baseline_percent": 0,
        "channels": ["in_app"],
        "quiet_hours": None,
        **change,
    }
    response = await client.put("/v1/admin/recovery/policy", json=body, headers=admin(settings))
    assert response.status_code == 200, response.text
    saved: dict[str, Any] = response.json()
    return saved


async def consent(
    client: httpx.AsyncClient, headers: Headers, *, given: bool = True, **more: Any
) -> None:
    body = {
        "marketing_consent": given,
        "name": "Ann",
        "email": "ann@mail.example",
        "channels": ["in_app", "email", "webhook"],
        **more,
    }
    response = await client.put("/v1/me/preferences", json=body, headers=headers)
    assert response.status_code == 200, response.text


async def shopper(
    client: httpx.AsyncClient,
    settings: Settings,
    user_id: str,
    *,
    product_id: str = "shirt",
    variant_id: str = "shirt-red-m",
    quantity: int = 1,
    consenting: bool = True,
) -> Headers:
    """A member with a one-line cart (and, unless told, marketing consent)."""
    headers = bearer(settings, user_id)
    if consenting:
        await consent(client, headers)
    response = await client.post(
        "/v1/cart/items",
        json={"product_id": product_id, "variant_id": variant_id, "quantity": quantity},
        headers=headers,
    )
    assert response.status_code in (200, 201), response.text
    return headers


async def run_pass(client: httpx.AsyncClient, settings: Settings) -> dict[str, Any]:
    response = await client.post("/v1/admin/recovery/run", headers=admin(settings))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def sent_to(
    client: httpx.AsyncClient, settings: Settings, **filters: str
) -> list[dict[str, Any]]:
    response = await client.get(
        "/v1/admin/notifications", params={"limit": 10_000, **filters}, headers=admin(settings)
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def inbox(client: httpx.AsyncClient, headers: Headers) -> list[dict[str, Any]]:
    response = await client.get("/v1/me/notifications", headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items
