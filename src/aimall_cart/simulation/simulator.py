"""``aimall-cart simulate``: a synthetic market driving the real recovery engine, to measure what
abandoned-cart recovery earns against customers whose reasons are known.

Everything runs through the real code on a real database: carts and checkouts through their
services, the catalog churn through the catalog service, time through the test clock, and the
recovery passes exactly as the worker runs them. Each wave brings new consenting customers who
fill carts and leave; the catalog changes under some carts; the clock passes the policy's
inactivity and a pass messages them; they read their in-app messages, and those who come back fix
their carts and check out. After the spacing comes a second stage, then the clock passes the
attribution window and a pass settles the wave. Each pass settles what it can, so the policy learns
between waves. The customers' hidden reasons never reach the database.

An entrypoint-level client: it commits, one transaction per batch of customers.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import TypeAdapter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart import migrate
from aimall_cart.db import Database
from aimall_cart.recovery import report
from aimall_cart.recovery.engine import Strategy
from aimall_cart.recovery.models import RecoveryCase
from aimall_cart.recovery.policy import RecoveryPolicy
from aimall_cart.recovery.report import ReportOut
from aimall_cart.simulation.market import World
from aimall_cart.simulation.waves import (
    CATALOG_PRODUCTS,
    CURRENCY,
    Ledger,
    Progress,
    Run,
    UnsuitableDatabase,
    WaveFigures,
    simulation_policy,
)

__all__ = ["SimulationResult", "UnsuitableDatabase", "as_json", "simulate", "simulation_policy"]


@dataclass(frozen=True)
class MarginInterval:
    """Net margin per cart of one group (minor units) with its 95% normal interval: the mean over
    every case of the group of its gross margin less its discount, zero for a case not won back."""

    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class SimulationResult:
    world: World
    seed: int
    strategy: Strategy
    policy: RecoveryPolicy
    waves: list[WaveFigures]
    report: ReportOut
    ledger: Ledger
    margins: dict[str, MarginInterval]


async def simulate(
    world: World,
    *,
    seed: int,
    waves: int,
    carts_per_wave: int,
    strategy: Strategy,
    database_url: str | None = None,
    progress: Progress | None = None,
    catalog_products: int = CATALOG_PRODUCTS,
) -> SimulationResult:
    """Run the market for ``waves`` waves. Without ``database_url`` it runs in a fresh SQLite file
    that is removed afterwards; a given database is migrated, must hold no carts, and is kept.
    A smaller catalog stocks faster, at the price of fewer alternatives."""
    async with _scratch(database_url) as url:
        database = Database(url)
        try:
            run = Run(database, world, seed=seed, strategy=strategy, progress=progress)
            await run.prepare(products=catalog_products, customers=waves * carts_per_wave)
            figures = [await run.wave(number, carts_per_wave) for number in range(1, waves + 1)]
            async with database.read_session() as session:
                final = await report.build(session, currency=CURRENCY)
                margins = await margin_intervals(session)
        finally:
            await database.dispose()
    return SimulationResult(world, seed, strategy, run.policy, figures, final, run.ledger, margins)


async def margin_intervals(session: AsyncSession) -> dict[str, MarginInterval]:
    """Per group, from the count, sum and sum of squares of each case's net margin."""
    net = RecoveryCase.gross_margin - RecoveryCase.discount_cost
    rows = await session.execute(
        select(RecoveryCase.group, func.count(), func.sum(net), func.sum(net * net)).group_by(
            RecoveryCase.group
        )
    )
    found: dict[str, MarginInterval] = {}
    for group, count, total, squares in rows:
        mean = int(total or 0) / count
        variance = max(int(squares or 0) / count - mean * mean, 0.0) * count / max(count - 1, 1)
        half = 1.96 * math.sqrt(variance / count)
        found[group] = MarginInterval(mean, mean - half, mean + half)
    return found


def as_json(results: Sequence[SimulationResult]) -> bytes:
    """The runs in full, for tables and comparisons made after the fact."""
    return TypeAdapter(list[SimulationResult]).dump_json(list(results), indent=2)


@asynccontextmanager
async def _scratch(database_url: str | None) -> AsyncIterator[str]:
    if database_url is not None:
        await asyncio.to_thread(migrate.upgrade, database_url)
        yield database_url
        return
    with tempfile.TemporaryDirectory(prefix="aimall-simulation-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'simulation.db'}"
        await asyncio.to_thread(migrate.upgrade, url)
        yield url
