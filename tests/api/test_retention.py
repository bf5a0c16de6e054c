"""Retention by the worker: idle guest carts, old archives and old messages are purged in
bounded batches, what must stay stays, and the purge is logged."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from aimall_cart import worker
from aimall_cart.config import Settings
from tests.answers import add_item
from tests.privacy_steps import checkout, full_flow
from tests.recovery_steps import advance, sent_to

DAY = 24 * 3600.0


@pytest.fixture
def app(clocked_app: FastAPI) -> FastAPI:
    return clocked_app


async def _purge(app: FastAPI, settings: Settings, now: dict[str, Any]) -> int:
    async with httpx.AsyncClient() as http:
        context = worker.Context(
            app.state.database, settings, http, started_at=datetime.fromisoformat(now["now"])
        )
        await worker.deliver_events(context, datetime.fromisoformat(now["now"]))
        return await worker.purge_expired_data(context, datetime.fromisoformat(now["now"]))


async def _guest(client: httpx.AsyncClient) -> dict[str, str]:
    created = await client.post("/v1/cart")
    assert created.status_code == 201, created.text
    guest = {"X-Cart-Token": created.headers["X-Cart-Token"]}
    await add_item(client, guest, "shirt-red-m")
    return guest


async def _archives(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    response = await client.get("/v1/me/data", headers=headers)
    assert response.status_code == 200, response.text
    return len(response.json()["archived_carts"])


async def test_retention_purges_in_bounded_batches_and_keeps_what_must_stay(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    flow = await full_flow(client, settings)
    idle = [await _guest(client) for _ in range(3)]
    small = settings.model_copy(update={"retention_batch_size": 1})

    now = await advance(client, settings, 29 * DAY)
    await _purge(app, small, now)
    for guest in idle:
        assert (await client.get("/v1/cart", headers=guest)).status_code == 200

    now = await advance(client, settings, 2 * DAY)
    with caplog.at_level(logging.INFO, logger="aimall_cart.worker"):
        assert await _purge(app, small, now) == 3
    assert "retention purged guest_carts=3 archived_carts=0 messages=0" in caplog.text
    for guest in idle:
        assert (await client.get("/v1/cart", headers=guest)).status_code in (401, 404)
    order = await client.get(f"/v1/orders/{flow.guest_order_id}", headers=flow.guest)
    assert order.status_code == 200, order.text
    assert (await client.get("/v1/cart", headers=flow.member)).status_code == 200
    assert len(await sent_to(client, settings)) == 3

    now = await advance(client, settings, 150 * DAY)
    await _purge(app, settings, now)
    assert await sent_to(client, settings) == []
    assert (await client.get("/v1/me/data", headers=flow.member)).json()["outbox_events"] == []
    assert await _archives(client, flow.member) == 1

    now = await advance(client, settings, 185 * DAY)
    await _purge(app, settings, now)
    assert await _archives(client, flow.member) == 0
    order = await client.get(f"/v1/orders/{flow.order_id}", headers=flow.member)
    assert order.status_code == 200, order.text


async def test_a_cart_that_became_an_order_outlives_guest_retention(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    await full_flow(client, settings)
    guest = await _guest(client)
    order_id = await checkout(client, guest, "pay-kept")

    now = await advance(client, settings, 40 * DAY)
    await _purge(app, settings, now)

    order = await client.get(f"/v1/orders/{order_id}", headers=guest)
    assert order.status_code == 200, order.text
