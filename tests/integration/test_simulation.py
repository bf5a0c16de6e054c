"""The simulator drives the real engine and services; its own bookkeeping must agree with what the
database holds and what the recovery report says."""

from __future__ import annotations

import io
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import Select, func, select
from typer.testing import CliRunner

from aimall_cart.analytics import service as analytics
from aimall_cart.carts.models import DiscountCode
from aimall_cart.checkout.models import Order
from aimall_cart.cli import app
from aimall_cart.db import Database
from aimall_cart.recovery.models import GROUPS, Notification, RecoveryCase
from aimall_cart.simulation import chart, simulator
from aimall_cart.simulation.simulator import SimulationResult
from aimall_cart.simulation.worlds import PRESETS

WAVES, CARTS_PER_WAVE, PRODUCTS = 2, 120, 240
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


async def _run(
    database_url: str | None,
    waves: int = WAVES,
    carts_per_wave: int = CARTS_PER_WAVE,
    products: int = PRODUCTS,
) -> SimulationResult:
    return await simulator.simulate(
        PRESETS["balanced"],
        seed=3,
        waves=waves,
        carts_per_wave=carts_per_wave,
        strategy="bandit",
        database_url=database_url,
        catalog_products=products,
    )


async def _scalar(database_url: str, statement: Select[Any]) -> int:
    database = Database(database_url)
    try:
        async with database.read_session() as session:
            return int(await session.scalar(statement) or 0)
    finally:
        await database.dispose()


async def test_a_small_run_agrees_with_the_database_and_the_report(
    database_url: str, tmp_path: Path
) -> None:
    result = await _run(database_url)
    groups = result.report.groups
    assert sum(groups[g].carts for g in GROUPS) == result.ledger.customers == WAVES * CARTS_PER_WAVE
    assert all(groups[g].carts > 0 and groups[g].open == 0 for g in GROUPS)
    assert groups["holdout"].messaged == 0 < groups["baseline"].messaged <= groups["baseline"].carts
    assert groups["baseline"].discount_cost == groups["holdout"].discount_cost == 0
    assert [w.number for w in result.waves] == list(range(1, WAVES + 1))
    for group in GROUPS:
        per_wave = [w.groups[group] for w in result.waves]
        assert sum(f.carts for f in per_wave) == groups[group].carts
        assert sum(f.recovered for f in per_wave) == groups[group].recovered
        margin = result.margins[group]
        assert margin.mean == pytest.approx(groups[group].net_margin_per_cart)
        assert margin.low <= margin.mean <= margin.high
    assert result.margins["holdout"].high > result.margins["holdout"].low  # some were won back
    await _check_against_the_database(database_url, result)
    await _check_the_analytics(database_url, result)
    _check_the_pictures(result, tmp_path / "run.png")


async def test_one_seed_repeats_the_same_run_in_another_database(database_url: str) -> None:
    """Cart ids are random, so the order in which a pass meets its cases differs between runs; the
    ai group's decisions must not depend on it."""
    here = await _run(database_url, waves=1)
    elsewhere = await _run(None, waves=1)  # a scratch SQLite file
    assert here.report.groups == elsewhere.report.groups
    assert here.report.groups["ai"].messaged > 0


async def _check_against_the_database(database_url: str, result: SimulationResult) -> None:
    """Orders placed are the recovered cases; money and messages match what the tables hold."""
    groups = result.report.groups
    orders = await _scalar(database_url, select(func.count()).select_from(Order))
    assert orders == result.ledger.orders == sum(groups[g].recovered for g in GROUPS) > 0
    revenue = await _scalar(database_url, select(func.sum(Order.total)))
    assert revenue == sum(groups[g].recovered_revenue for g in GROUPS)
    promotions = await _scalar(database_url, select(func.sum(Order.promotion_discount)))
    assert promotions == groups["ai"].discount_cost
    holdout_messages = await _scalar(
        database_url,
        select(func.count()).select_from(Notification).where(Notification.group == "holdout"),
    )
    codes_outside_ai = await _scalar(
        database_url,
        select(func.count())
        .select_from(DiscountCode)
        .join(RecoveryCase, RecoveryCase.user_id == DiscountCode.user_id)
        .where(RecoveryCase.group != "ai"),
    )
    assert holdout_messages == codes_outside_ai == 0


async def _check_the_analytics(database_url: str, result: SimulationResult) -> None:
    """The analytics job ran as the worker would have, on the simulated clock: each wave's carts
    are found abandoned on their own days (a wave spans days), with the catalog churn still
    under them, and the roll-ups hold every cart a message won back."""
    database = Database(database_url)
    try:
        async with database.read_session() as session:
            days = await analytics.daily(session, first=date.min, last=date.max)
    finally:
        await database.dispose()
    won_back_by_a_message = await _scalar(
        database_url,
        select(func.count())
        .select_from(RecoveryCase)
        .where(RecoveryCase.status == "recovered", RecoveryCase.messages_sent > 0),
    )
    abandoned = {day: f.abandoned_carts for day, f in days.items() if f.abandoned_carts}
    assert len(abandoned) >= WAVES
    assert max(abandoned.values()) < sum(abandoned.values())
    assert sum(abandoned.values()) >= result.ledger.customers  # every cart idled at least once
    totals = sum(days.values(), start=analytics.Figures())
    assert totals.reason_price > 0
    assert totals.reason_availability > 0
    assert totals.recovered_carts == won_back_by_a_message > 0


def _check_the_pictures(result: SimulationResult, path: Path) -> None:
    chart.save_png(path, [result])
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    output = io.StringIO()
    Console(file=output, width=160).print(chart.report([result]))
    assert "lift of ai over baseline" in output.getvalue()
    assert "holdout 33%, baseline 33%" in output.getvalue()
    assert (result.policy.max_discount_percent, result.policy.quiet_hours) == (20, None)
    [saved] = json.loads(simulator.as_json([result]))
    assert (saved["world"]["name"], saved["seed"], saved["strategy"]) == ("balanced", 3, "bandit")
    assert saved["report"]["groups"]["ai"]["recovered"] == result.report.groups["ai"].recovered
    assert len(saved["waves"]) == WAVES
    assert saved["ledger"]["returns"]["ordered"] == result.ledger.orders


async def test_the_simulator_refuses_a_database_that_holds_carts(database_url: str) -> None:
    await _run(database_url, waves=1, carts_per_wave=2, products=12)
    with pytest.raises(simulator.UnsuitableDatabase, match="without carts"):
        await _run(database_url, waves=1, carts_per_wave=2, products=12)


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["--world", "utopia"], "no world 'utopia'"),
        (["--reason-mix", "price=2"], "at most 1"),
        (["--reason-mix", "boredom=0.2"], "unknown reasons"),
        (["--strategy", "both", "--database-url", "sqlite+aiosqlite:///x.db"], "a database each"),
    ],
)
def test_simulate_refuses_bad_options_before_running(arguments: list[str], complaint: str) -> None:
    answer = CliRunner().invoke(app, ["simulate", *arguments])
    assert answer.exit_code == 2
    assert complaint in " ".join(answer.output.replace("│", " ").split())


def test_simulate_writes_the_chart_and_the_runs(tmp_path: Path) -> None:
    chart_file, runs_file = tmp_path / "waves.png", tmp_path / "runs.json"
    options = ["--waves", "1", "--carts-per-wave", "3", "--seed", "4"]
    files = ["--chart", str(chart_file), "--json", str(runs_file)]
    answer = CliRunner().invoke(app, ["simulate", *options, *files])

    assert answer.exit_code == 0, answer.output
    assert chart_file.read_bytes().startswith(PNG_SIGNATURE)
    [run] = json.loads(runs_file.read_text())
    assert (run["seed"], run["strategy"], run["ledger"]["customers"]) == (4, "bandit", 3)


def test_a_chart_without_matplotlib_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the sim extra were not installed
    chart_file = tmp_path / "waves.png"

    answer = CliRunner().invoke(app, ["simulate", "--waves", "1", "--chart", str(chart_file)])

    assert answer.exit_code == 2
    assert "pip install 'aimall-cart[sim]'" in " ".join(answer.output.replace("│", " ").split())
    assert not chart_file.exists()
