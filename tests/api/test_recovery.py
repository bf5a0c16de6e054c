"""Abandoned-cart recovery through the API: consent, caps, spacing, quiet hours, reasons,
alternatives, the policy, the notification log, and passes that several workers may run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from aimall_cart.config import Settings
from aimall_cart.recovery import service
from aimall_cart.recovery.engine import Engine
from aimall_cart.recovery.models import Decision, Notification, RecoveryCase
from tests.answers import problem_of
from tests.builders import admin, bearer, make_product, make_variant, put_product, shirt
from tests.recovery_steps import (
    HOUR,
    advance,
    consent,
    inbox,
    run_pass,
    sent_to,
    set_policy,
    shopper,
)


@pytest.fixture
def app(clocked_app: FastAPI) -> FastAPI:
    """With the test clock, and an engine whose draws repeat."""
    clocked_app.state.recovery_engine = Engine.create(seed=7)
    return clocked_app


@pytest.fixture
async def catalog(client: httpx.AsyncClient, settings: Settings) -> None:
    await shirt(client, settings, stock=50)


async def test_no_message_goes_to_a_customer_without_consent(
    client: httpx.AsyncClient, settings: Settings, catalog: None
) -> None:
    await set_policy(client, settings)
    silent = await shopper(client, settings, "u-silent", consenting=False)
    refused = await shopper(client, settings, "u-refused", consenting=False)
    await consent(client, refused, given=False)
    await advance(client, settings, 2 * HOUR)

    result = await run_pass(client, settings)

    assert (result["sent"], result["skipped"]["no_consent"]) == (0, 2)
    assert await sent_to(client, settings) == []
    assert await inbox(client, silent) == []
    assert await inbox(client, refused) == []

    await consent(client, refused)
    await advance(client, settings, 2 * HOUR)
    assert (await run_pass(client, settings))["sent"] == 1
    assert [n["user_id"] for n in await sent_to(client, settings)] == ["u-refused"]


async def test_unsubscribing_stops_the_next_message(
    client: httpx.AsyncClient, settings: Settings, catalog: None
) -> None:
    await set_policy(client, settings, max_messages_per_cart=3, min_minutes_between_messages=60)
    headers = await shopper(client, settings, "u-1")
    await advance(client, settings, 2 * HOUR)
    assert (await run_pass(client, settings))["sent"] == 1
    await consent(client, headers, given=False)
    await advance(client, settings, 2 * HOUR)

    result = await run_pass(client, settings)

    assert result["sent"] == 0
    assert result["skipped"]["no_consent"] == 1
    assert len(await inbox(client, headers)) == 1


async def test_spacing_and_the_per_cart_cap_hold(
    client: httpx.AsyncClient, settings: Settings, catalog: None
) -> None:
    await set_policy(client, settings, max_messages_per_cart=2, min_minutes_between_messages=120)
    headers = await shopper(client, settings, "u-1")
    await advance(client, settings, 2 * HOUR)

    assert (await run_pass(client, settings))["sent"] == 1
    assert (await run_pass(client, settings))["sent"] == 0  # a second pass at once: nothing
    await advance(client, settings, 1 * HOUR)
    assert (await run_pass(client, settings))["sent"] == 0  # inside the spacing
    await advance(client, settings, 1 * HOUR + 1)
    assert (await run_pass(client, settings))["sent"] == 1  # second stage
    await advance(client, settings, 24 * HOUR)
    assert (await run_pass(client, settings))["sent"] == 0  # the cart's cap is reached

    sent = await inbox(client, headers)
    assert len(sent) == 2
    gap = datetime.fromisoformat(sent[0]["sent_at"]) - datetime.fromisoformat(sent[1]["sent_at"])
    assert gap.total_seconds() >= 120 * 60


async def test_the_weekly_cap_per_customer_holds_across_carts(
    client: httpx.AsyncClient, settings: Settings, catalog: None
) -> None:
    # A window longer than the week, so the capped cart is still open when the week is over.
    await set_policy(
        client, settings, max_messages_per_customer_per_week=1, attribution_window_hours=10 * 24
    )
    headers = await shopper(client, settings, "u-1")
    await advance(client, settings, 2 * HOUR)
    assert (await run_pass(client, settings))["sent"] == 1
    # The customer buys, then leaves a second cart idle within the week.
    assert (await client.post("/v1/cart/checkout", headers=headers)).status_code == 201
    assert (await client.post("/v1/cart/checkout/complete", headers=headers)).status_code == 201
    await shopper(client, settings, "u-1", variant_id="shirt-blue-m")
    await advance(client, settings, 2 * HOUR)

    result = await run_pass(client, settings)

    assert result["sent"] == 0
    assert result["skipped"]["customer_cap"] == 1
    await advance(client, settings, 7 * 24 * HOUR)
    assert (await run_pass(client, settings))["sent"] == 1


async def test_nothing_is_sent_in_the_customers_quiet_hours(
    client: httpx.AsyncClient, settings: Settings, catalog: None
) -> None:
    now = datetime.fromisoformat(
        (await client.get("/v1/admin/clock", headers=admin(settings))).json()["now"]
    ).astimezone(UTC)
    later = (now.hour + 2) % 24  # the pass runs two hours from now, local time UTC
    await set_policy(
        client, settings, quiet_hours={"start_hour": later, "end_hour": (later + 2) % 24}
    )
    await shopper(client, settings, "u-1")
    await advance(client, settings, 2 * HOUR)

    result = await run_pass(client, settings)

    assert result["sent"] == 0
    assert result["skipped"]["quiet_hours"] == 1
    await advance(client, settings, 2 * HOUR)
    assert (await run_pass(client, settings))["sent"] == 1


async def test_a_cart_whose_price_rose_is_read_as_a_price_problem(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, catalog: None
) -> None:
    await set_policy(client, settings)
    await shopper(client, settings, "u-1")
    response = await client.patch(
        "/v1/catalog/variants/shirt-red-m", json={"price": 2799}, headers=admin(settings)
    )
    assert response.status_code == 200, response.text
    await advance(client, settings, 2 * HOUR)

    await run_pass(client, settings)

    [note] = await sent_to(client, settings)
    assert note["reason"] == "price"
    async with app.state.database.read_session() as session:
        decision = await session.scalar(select(Decision))
    assert decision is not None
    assert decision.reasons["price"] == max(decision.reasons.values())
    assert any("price" in line for line in decision.evidence)


async def _shoes(client: httpx.AsyncClient, settings: Settings) -> None:
    def shoe(product_id: str, name: str, price: int, stock: int, category: str = "shoes") -> dict:
        return make_product(
            make_variant(f"{product_id}-42", price=price, stock=stock, size="42"),
            name=name,
            category=category,
        )

    for product_id, body in {
        "trail-red": shoe("trail-red", "Trail running shoe red", 8000, 5),
        "trail-blue": shoe("trail-blue", "Trail running shoe blue", 8400, 5),
        "trail-green": shoe("trail-green", "Trail running shoe green", 8200, 0),
        "office": shoe("office", "Leather office shoe", 7900, 5),
        "far": shoe("far", "Trail running shoe luxe", 30000, 5),
        "tent": shoe("tent", "Trail running tent", 8000, 5, category="camping"),
    }.items():
        await put_product(client, settings, product_id, body)


async def test_an_out_of_stock_cart_is_offered_in_stock_alternatives_of_its_category(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await _shoes(client, settings)
    await set_policy(client, settings, max_discount_percent=0)
    for n in range(8):
        await shopper(client, settings, f"u-{n}", product_id="trail-red", variant_id="trail-red-42")
    response = await client.patch(
        "/v1/catalog/variants/trail-red-42", json={"stock": 0}, headers=admin(settings)
    )
    assert response.status_code == 200, response.text
    await advance(client, settings, 2 * HOUR)

    await run_pass(client, settings)

    notes = await sent_to(client, settings)
    assert len(notes) == 8
    assert {n["reason"] for n in notes} == {"availability"}
    for note in notes:
        ids = [a["product_id"] for a in note["alternatives"]]
        assert ids[0] == "trail-blue"  # the most similar in-stock shoe in the price band
        assert set(ids) <= {"trail-blue", "office"}
        assert "Trail running shoe blue" in note["body"]


async def test_the_holdout_gets_nothing_but_its_reasons_are_logged(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, catalog: None
) -> None:
    await set_policy(client, settings, holdout_percent=100)
    headers = await shopper(client, settings, "u-1")
    await advance(client, settings, 2 * HOUR)

    result = await run_pass(client, settings)
    again = await run_pass(client, settings)

    assert (result["sent"], result["detected"], again["detected"]) == (0, 1, 0)
    assert await inbox(client, headers) == []
    async with app.state.database.read_session() as session:
        decisions = list(await session.scalars(select(Decision)))
    assert [(d.group, d.action, d.probability) for d in decisions] == [("holdout", "none", 1.0)]


async def test_members_read_only_their_own_in_app_messages(
    client: httpx.AsyncClient, settings: Settings, catalog: None
) -> None:
    await set_policy(client, settings, channels=["in_app", "webhook"])
    ann = await shopper(client, settings, "u-ann")
    bob = await shopper(client, settings, "u-bob")
    await advance(client, settings, 2 * HOUR)
    await run_pass(client, settings)

    [mine] = await inbox(client, ann)
    assert len(await inbox(client, bob)) == 1
    assert {"group", "reason", "user_id"}.isdisjoint(mine)  # the experiment stays internal
    assert mine["cart_id"] in {
        n["cart_id"] for n in await sent_to(client, settings, user_id="u-ann")
    }
    assert {n["channel"] for n in await sent_to(client, settings, user_id="u-ann")} == {
        "in_app",
        "webhook",
    }
    problem_of(await client.get("/v1/me/notifications"), 401, "unauthenticated")


async def test_the_notification_log_pages_without_repeats(
    client: httpx.AsyncClient, settings: Settings, catalog: None
) -> None:
    await set_policy(client, settings)
    for n in range(5):
        await shopper(client, settings, f"u-{n}")
    await advance(client, settings, 2 * HOUR)
    await run_pass(client, settings)

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (
            await client.get("/v1/admin/notifications", params=params, headers=admin(settings))
        ).json()
        seen += [n["id"] for n in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert len(seen) == len(set(seen)) == 5
    bad = await client.get(
        "/v1/admin/notifications", params={"cursor": "nope"}, headers=admin(settings)
    )
    problem_of(bad, 422, "invalid_cursor")
    problem_of(
        await client.get("/v1/admin/notifications", headers=bearer(settings, "u-1")),
        403,
        "forbidden",
    )


async def test_a_disabled_policy_does_nothing(
    client: httpx.AsyncClient, settings: Settings, catalog: None
) -> None:
    await set_policy(client, settings, enabled=False)
    await shopper(client, settings, "u-1")
    await advance(client, settings, 2 * HOUR)
    assert await run_pass(client, settings) == {
        "examined": 0,
        "detected": 0,
        "sent": 0,
        "settled": 0,
        "skipped": {},
    }


async def test_concurrent_passes_send_each_stage_once(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, catalog: None
) -> None:
    await set_policy(client, settings, channels=["in_app", "email", "webhook"])
    for n in range(12):
        await shopper(client, settings, f"u-{n}")
    await advance(client, settings, 2 * HOUR)
    now = await app.state.clock.now()
    passes = [
        service.run_pass(app.state.database, app.state.settings, Engine.create(seed=n), now=now)
        for n in range(4)
    ]

    results = await asyncio.gather(*passes)

    assert sum(r.detected for r in results) == 12
    assert sum(r.sent for r in results) == 12
    async with app.state.database.read_session() as session:
        decisions = await session.scalar(select(func.count()).select_from(Decision))
        per_cart = await session.execute(
            select(Notification.cart_id, func.count()).group_by(Notification.cart_id)
        )
        cases = await session.scalar(select(func.count()).select_from(RecoveryCase))
    assert (decisions, cases) == (12, 12)
    assert {count for _, count in per_cart} == {3}  # one per channel, once
