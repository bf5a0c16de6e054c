"""Export and erasure of everything held about a member or a guest (``/v1/me/data``), and the
database dump after a full flow and erasure that finds nothing personal."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from aimall_cart import worker
from aimall_cart.carts.models import CartEvent
from aimall_cart.checkout.models import Order
from aimall_cart.config import Settings
from aimall_cart.db import Database
from tests.answers import add_item
from tests.builders import admin, bearer
from tests.privacy_steps import (
    EMAIL,
    GUEST_PAYMENT,
    MEMBER,
    NAME,
    PAYMENT,
    consent,
    dump,
    full_flow,
)
from tests.recovery_steps import HOUR, advance, run_pass, sent_to, set_policy, shopper

PERSONAL = (EMAIL, NAME, PAYMENT, GUEST_PAYMENT)


@pytest.fixture
def app(clocked_app: FastAPI) -> FastAPI:
    return clocked_app


async def _export(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/v1/me/data", headers=headers)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


async def _erase(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, int]:
    response = await client.delete("/v1/me/data", headers=headers)
    assert response.status_code == 202, response.text
    erased: dict[str, int] = response.json()["erased"]
    return erased


async def _count_events(app: FastAPI) -> int:
    async with app.state.database.read_session() as session:
        return int(await session.scalar(select(func.count()).select_from(CartEvent)) or 0)


async def test_a_member_exports_everything_held_about_them(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    flow = await full_flow(client, settings)

    document = await _export(client, flow.member)

    assert document["subject"] == {"type": "member", "user_id": MEMBER}
    assert (document["preferences"]["email"], document["preferences"]["name"]) == (EMAIL, NAME)
    assert [c["marketing_consent"] for c in document["consent_history"]] == [True]
    assert {c["status"] for c in document["carts"]} == {"checked_out", "active"}
    assert [a["order_id"] for a in document["archived_carts"]] == [flow.order_id]
    assert [(o["id"], o["payment_reference"]) for o in document["orders"]] == [
        (flow.order_id, PAYMENT)
    ]
    recovery = document["recovery"]
    assert recovery["group"] == "ai"
    assert len(recovery["cases"]) == 1
    assert recovery["cases"][0]["decisions"]
    assert {m["channel"] for m in recovery["messages"]} == {"in_app", "email", "webhook"}
    assert all(NAME in m["body"] for m in recovery["messages"])
    assert {e["type"] for e in document["outbox_events"]} == {
        "recovery.email",
        "recovery.webhook",
        "order.placed",
    }
    assert {"item_added", "checkout_completed"} <= {e["kind"] for e in document["cart_events"]}
    assert "discount_codes" in document
    assert [k["key"] for k in document["idempotency_keys"]] == ["add-blue-once"]


async def test_erasing_a_member_leaves_nameless_orders_and_no_further_message(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    flow = await full_flow(client, settings)
    report_before = (await client.get("/v1/admin/recovery/report", headers=admin(settings))).json()
    events_before = await _count_events(app)

    erased = await _erase(client, flow.member)

    assert erased["carts"] == 2
    assert erased["archived_carts"] == 1
    assert erased["orders"] == 1
    assert erased["notifications"] == 3
    assert erased["recovery_cases"] == 1
    assert erased["preferences"] == 1
    assert erased["idempotency_keys"] == 1
    assert set((await _erase(client, flow.member)).values()) == {0}
    assert (await client.get("/v1/cart", headers=flow.member)).status_code == 404
    document = await _export(client, flow.member)
    assert document["preferences"] is None
    assert document["carts"] == document["orders"] == document["archived_carts"] == []
    assert document["recovery"] == {"group": None, "cases": [], "messages": []}
    assert document["outbox_events"] == []
    assert document["cart_events"] == []
    assert await _count_events(app) == events_before  # the figures keep them, nameless
    async with app.state.database.read_session() as session:
        order = await session.get_one(Order, flow.order_id_uuid)
        await session.refresh(order, ["lines"])
    assert (order.user_id, order.guest_token_hash, order.payment_reference) == (None, None, None)
    assert order.total > 0
    assert order.lines
    report_after = (await client.get("/v1/admin/recovery/report", headers=admin(settings))).json()
    assert {name: g["carts"] for name, g in report_after["groups"].items()} == {
        name: g["carts"] for name, g in report_before["groups"].items()
    }

    await add_item(client, bearer(settings, "someone-else"), "shirt-red-m")
    await advance(client, settings, 3 * 24 * HOUR)
    await run_pass(client, settings)
    assert await sent_to(client, settings, user_id=MEMBER) == []


async def test_a_guest_exports_and_erases_their_own_cart_and_orders(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    flow = await full_flow(client, settings)
    await add_item(client, flow.guest, "shirt-blue-m")

    document = await _export(client, flow.guest)

    assert document["subject"] == {"type": "guest"}
    assert [o["payment_reference"] for o in document["orders"]] == [GUEST_PAYMENT]
    assert document["preferences"] is None
    assert len(document["carts"]) == 1
    assert document["recovery"]["messages"] == []

    erased = await _erase(client, flow.guest)

    assert (erased["carts"], erased["orders"], erased["archived_carts"]) == (1, 1, 1)
    assert (await client.get("/v1/cart", headers=flow.guest)).status_code in (401, 404)
    assert (await _export(client, flow.guest))["orders"] == []
    member_orders = (await _export(client, flow.member))["orders"]
    assert [o["payment_reference"] for o in member_orders] == [PAYMENT]


async def test_data_needs_a_member_or_a_cart_token(client: httpx.AsyncClient) -> None:
    for method in ("GET", "DELETE"):
        response = await client.request(method, "/v1/me/data")
        assert response.status_code == 401, response.text


async def test_the_dump_after_a_full_flow_and_erasure_holds_nothing_personal(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    flow = await full_flow(client, settings)
    database: Database = app.state.database
    sealed = await dump(database)
    for personal in PERSONAL:
        assert personal not in sealed, f"{personal} is stored in clear"
    with caplog.at_level(logging.INFO):
        await worker.deliver_events(
            worker.Context(database, settings, httpx.AsyncClient(), started_at=_now()), _now()
        )
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for personal in (*PERSONAL, MEMBER, "unsubscribe"):
        assert personal not in logged, f"{personal} is in the logs"

    await _erase(client, flow.member)
    await _erase(client, flow.guest)

    everything = await dump(database)
    for personal in (*PERSONAL, MEMBER, flow.guest_token):
        assert personal not in everything, f"{personal} is still in the database"


def _now() -> Any:
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) + timedelta(days=30)


async def test_erasure_while_recovery_passes_run_leaves_no_message_behind(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    from tests.builders import shirt

    await shirt(client, settings, stock=500)
    await set_policy(client, settings, channels=["in_app", "email", "webhook"])
    members = [f"crowd-{n}" for n in range(16)]
    for user_id in members:
        await shopper(client, settings, user_id, product_id="shirt", variant_id="shirt-red-m")
        await consent(client, bearer(settings, user_id))
    await advance(client, settings, 2 * HOUR)

    async def passes() -> None:
        for _ in range(3):
            await run_pass(client, settings)
            await advance(client, settings, 25 * HOUR)

    async def erasures() -> None:
        for user_id in members:
            await _erase(client, bearer(settings, user_id))

    await asyncio.gather(passes(), erasures())

    await advance(client, settings, 25 * HOUR)
    await run_pass(client, settings)
    for user_id in members:
        assert await sent_to(client, settings, user_id=user_id) == []
        document = await _export(client, bearer(settings, user_id))
        assert document["outbox_events"] == []
        assert document["recovery"]["messages"] == []
