"""What the policy learns from: running tallies of settled messages, the baseline's reminders
among them, and a message counted lost as soon as its case's next stage is decided."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from aimall_cart.config import Settings
from aimall_cart.recovery import outcomes
from aimall_cart.recovery.bandit import Outcomes
from aimall_cart.recovery.engine import Engine
from aimall_cart.recovery.models import Decision, RecoveryCase, Tally
from tests.builders import shirt
from tests.recovery_steps import HOUR, advance, run_pass, set_policy, shopper

WINDOW_HOURS = 72


@pytest.fixture
def app(clocked_app: FastAPI) -> FastAPI:
    clocked_app.state.recovery_engine = Engine.create(seed=5)
    return clocked_app


async def buy(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    assert (await client.post("/v1/cart/checkout", headers=headers)).status_code == 201
    assert (await client.post("/v1/cart/checkout/complete", headers=headers)).status_code == 201


async def outcomes_by_stage(app: FastAPI) -> dict[int, str | None]:
    async with app.state.database.read_session() as session:
        rows = await session.execute(select(Decision.stage, Decision.outcome))
        return dict(rows.all())


async def test_a_message_counts_as_lost_once_the_next_stage_is_decided(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings, stock=100)
    await set_policy(client, settings, max_messages_per_cart=2, min_minutes_between_messages=60)
    await shopper(client, settings, "u-1")
    await advance(client, settings, 2 * HOUR)
    assert (await run_pass(client, settings))["sent"] == 1
    assert await outcomes_by_stage(app) == {0: None}
    await advance(client, settings, 2 * HOUR)
    assert (await run_pass(client, settings))["sent"] == 1

    # Days before the attribution window closes, the first message is already counted.
    assert await outcomes_by_stage(app) == {0: "lost", 1: None}
    async with app.state.database.read_session() as session:
        [first] = await session.scalars(select(Decision).where(Decision.stage == 0))
        learned = await outcomes.learned(session)
        assert await session.scalar(select(RecoveryCase.status)) == "open"
    assert learned == {first.primary_reason: {first.action: Outcomes(recovered=0, lost=1)}}

    await advance(client, settings, (WINDOW_HOURS + 1) * HOUR)
    await run_pass(client, settings)
    assert await outcomes_by_stage(app) == {0: "lost", 1: "lost"}
    async with app.state.database.read_session() as session:
        learned = await outcomes.learned(session)
    assert sum(o.lost for by_action in learned.values() for o in by_action.values()) == 2
    assert all(o.recovered == 0 for by_action in learned.values() for o in by_action.values())


async def test_the_baselines_reminders_are_learned_apart_from_the_ai_group(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings, stock=100)
    await set_policy(client, settings, baseline_percent=100, max_messages_per_cart=1)
    won, _lost = [await shopper(client, settings, f"u-{n}") for n in range(2)]
    await advance(client, settings, 2 * HOUR)
    assert (await run_pass(client, settings))["sent"] == 2
    await buy(client, won)
    await advance(client, settings, (WINDOW_HOURS + 1) * HOUR)
    await run_pass(client, settings)

    async with app.state.database.read_session() as session:
        [context] = set(await session.scalars(select(Decision.primary_reason)))
        baseline = await outcomes.learned(session, group="baseline")
        ai = await outcomes.learned(session)
    assert baseline == {context: {"reminder": Outcomes(recovered=1, lost=1)}}
    assert ai == {}


async def test_a_case_is_tallied_once_however_many_passes_settle(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings, stock=100)
    await set_policy(client, settings, max_messages_per_cart=1)
    headers = await shopper(client, settings, "u-1")
    await advance(client, settings, 2 * HOUR)
    await run_pass(client, settings)
    await buy(client, headers)
    for _ in range(3):
        await run_pass(client, settings)
        await advance(client, settings, WINDOW_HOURS * HOUR)

    async with app.state.database.read_session() as session:
        tallies = list(await session.scalars(select(Tally)))
    assert [(t.group, t.recovered, t.lost) for t in tallies] == [("ai", 1, 0)]
    assert await outcomes_by_stage(app) == {0: "recovered"}


async def test_the_policy_learns_from_the_days_inside_its_window(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings, stock=100)
    await set_policy(client, settings, max_messages_per_cart=1)
    await shopper(client, settings, "u-1")
    await advance(client, settings, 2 * HOUR)
    await run_pass(client, settings)
    await advance(client, settings, (WINDOW_HOURS + 1) * HOUR)
    await run_pass(client, settings)

    async with app.state.database.read_session() as session:
        [settled_on] = await session.scalars(select(Tally.day))
        inside = await outcomes.learned(session, since=settled_on)
        after = await outcomes.learned(session, since=settled_on + timedelta(days=1))
    assert sum(o.lost for by_action in inside.values() for o in by_action.values()) == 1
    assert after == {}
