"""A cart's activity mark: it trails the last activity by less than a minute on PostgreSQL (so
most changes leave the cart's indexes alone), and idle-cart scans still judge by the exact time."""

from __future__ import annotations

import uuid
from datetime import datetime

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from aimall_cart.carts import activity
from aimall_cart.carts.models import Cart
from aimall_cart.config import Settings
from tests.answers import advance
from tests.builders import shirt


async def _times(app: FastAPI, cart_id: str) -> tuple[datetime, datetime]:
    async with app.state.database.read_session() as session:
        cart = await session.get_one(Cart, uuid.UUID(cart_id))
        return cart.activity_mark, cart.last_activity_at


async def _idle_since(app: FastAPI, moment: datetime) -> list[uuid.UUID]:
    async with app.state.database.read_session() as session:
        return list(await session.scalars(select(Cart.id).where(*activity.idle_since(moment))))


async def _add(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    body = {"product_id": "shirt", "variant_id": "shirt-blue-m", "quantity": 1}
    response = await client.post("/v1/cart/items", json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response


async def test_the_mark_moves_once_a_minute_and_idleness_is_judged_by_the_exact_time(
    clocked_app: FastAPI, clocked: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(clocked, settings)
    first = await _add(clocked, {})
    cart_id, guest = first.json()["id"], {"X-Cart-Token": first.headers["X-Cart-Token"]}
    started, _ = await _times(clocked_app, cart_id)

    await advance(clocked, settings, 30)
    await _add(clocked, guest)
    mark, last = await _times(clocked_app, cart_id)
    on_postgresql = settings.database_url.startswith("postgresql")
    assert mark == (started if on_postgresql else last)
    assert (last - started).total_seconds() >= 30

    # The mark says the cart may have been idle since it was made; the exact time says not.
    assert uuid.UUID(cart_id) not in await _idle_since(clocked_app, started)
    assert uuid.UUID(cart_id) in await _idle_since(clocked_app, last)

    await advance(clocked, settings, 40)
    await _add(clocked, guest)
    mark, last = await _times(clocked_app, cart_id)
    assert mark == last
