"""The recovery report against the database it summarises, and a promotion's cost in it."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from aimall_cart.checkout.models import Order
from aimall_cart.config import Settings
from aimall_cart.recovery import outcomes
from aimall_cart.recovery.engine import Engine
from aimall_cart.recovery.models import Decision, Notification, RecoveryCase
from tests.builders import admin, shirt
from tests.recovery_steps import HOUR, advance, inbox, run_pass, set_policy, shopper

WINDOW_HOURS = 72


@pytest.fixture
def app(clocked_app: FastAPI) -> FastAPI:
    """With the test clock, and an engine whose draws repeat."""
    clocked_app.state.recovery_engine = Engine.create(seed=3)
    return clocked_app


async def buy(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    assert (await client.post("/v1/cart/checkout", headers=headers)).status_code == 201
    assert (await client.post("/v1/cart/checkout/complete", headers=headers)).status_code == 201


async def report(client: httpx.AsyncClient, settings: Settings) -> dict:
    response = await client.get("/v1/admin/recovery/report", headers=admin(settings))
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


async def test_the_reports_counts_match_the_database(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings, stock=100)
    await set_policy(
        client,
        settings,
        holdout_percent=34,
        baseline_percent=33,
        attribution_window_hours=WINDOW_HOURS,
    )
    shoppers = [await shopper(client, settings, f"u-{n}") for n in range(18)]
    await advance(client, settings, 2 * HOUR)
    await run_pass(client, settings)
    for headers in shoppers[:6]:
        await buy(client, headers)  # inside the window
    await advance(client, settings, (WINDOW_HOURS + 1) * HOUR)
    await buy(client, shoppers[6])  # too late to count
    assert (await run_pass(client, settings))["settled"] == 18

    body = await report(client, settings)

    async with app.state.database.read_session() as session:
        cases = list(await session.scalars(select(RecoveryCase)))
        orders = {o.cart_id: o for o in await session.scalars(select(Order))}
        messaged = set(await session.scalars(select(Notification.cart_id)))
    window = timedelta(hours=WINDOW_HOURS)
    recovered = [
        c
        for c in cases
        if c.cart_id in orders and orders[c.cart_id].created_at <= c.window_starts_at + window
    ]
    assert len(recovered) == 6
    for group in ("holdout", "baseline", "ai"):
        mine = [c for c in cases if c.group == group]
        won = [c for c in recovered if c.group == group]
        figures = body["groups"][group]
        assert figures["carts"] == len(mine)
        assert figures["messaged"] == len([c for c in mine if c.cart_id in messaged])
        assert figures["recovered"] == len(won)
        assert figures["open"] == 0
        assert figures["recovered_revenue"] == sum(orders[c.cart_id].total for c in won)
        if mine:
            low, high = figures["recovery_rate_interval"]
            assert low <= figures["recovery_rate"] == len(won) / len(mine) <= high
    assert Counter(c.group for c in cases).total() == 18
    assert body["groups"]["holdout"]["messaged"] == 0


async def test_a_recovery_discount_is_used_once_and_counted_as_cost(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    app.state.recovery_engine = Engine.create(seed=1, strategy="blanket_discount")
    await shirt(client, settings, stock=100, price=5000)
    await set_policy(client, settings, max_discount_percent=10)
    headers = await shopper(client, settings, "u-1", quantity=2)
    await advance(client, settings, 2 * HOUR)
    await run_pass(client, settings)
    [message] = await inbox(client, headers)
    assert message["discount_percent"] == 10
    assert message["discount_code"] in message["body"]

    applied = await client.post(
        "/v1/cart/discount", json={"code": message["discount_code"]}, headers=headers
    )
    assert applied.status_code == 200, applied.text
    assert applied.json()["totals"]["total"] == 9000
    await buy(client, headers)
    await advance(client, settings, (WINDOW_HOURS + 1) * HOUR)
    await run_pass(client, settings)

    ai = (await report(client, settings))["groups"]["ai"]
    assert (ai["recovered"], ai["recovered_revenue"], ai["discount_cost"]) == (1, 9000, 1000)
    # 30% margin on the 10,000 sold before the promotion, less the 1,000 it cost.
    assert ai["net_margin"] == 3000 - 1000


async def test_the_policy_credits_each_message_only_with_an_order_before_the_next(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings, stock=100)
    await set_policy(client, settings, max_messages_per_cart=2, min_minutes_between_messages=60)
    first, second, _never_buys = [await shopper(client, settings, f"u-{n}") for n in range(3)]
    await advance(client, settings, 2 * HOUR)
    assert (await run_pass(client, settings))["sent"] == 3
    await buy(client, first)  # after the first message
    await advance(client, settings, 2 * HOUR)
    assert (await run_pass(client, settings))["sent"] == 2
    await buy(client, second)  # after the second
    await advance(client, settings, (WINDOW_HOURS + 1) * HOUR)
    await run_pass(client, settings)
    ai = (await report(client, settings))["groups"]["ai"]
    assert (ai["carts"], ai["recovered"], ai["open"]) == (3, 2, 0)

    async with app.state.database.read_session() as session:
        decisions = (
            await session.execute(
                select(
                    RecoveryCase.user_id, Decision.stage, Decision.primary_reason, Decision.action
                ).join(RecoveryCase, RecoveryCase.id == Decision.case_id)
            )
        ).all()
        learned = await outcomes.learned(session)
    won = {("u-0", 0), ("u-1", 1)}
    tally: dict[tuple[str, str], Counter[bool]] = {}
    for user_id, stage, reason, action in decisions:
        tally.setdefault((reason, action), Counter())[(user_id, stage) in won] += 1
    assert len(decisions) == 5
    # u-1's two messages differ, so crediting the wrong one of them would change the counts.
    second_buyer = {
        stage: (reason, action) for user, stage, reason, action in decisions if user == "u-1"
    }
    assert second_buyer[0] != second_buyer[1]
    assert {
        (reason, action): (outcome.recovered, outcome.lost)
        for reason, by_action in learned.items()
        for action, outcome in by_action.items()
    } == {key: (counts[True], counts[False]) for key, counts in tally.items()}
