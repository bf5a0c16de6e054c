"""Seller and admin analytics over a million cart events on PostgreSQL, and the roll-up's cost.

One run makes a throwaway database (``BENCH_POSTGRES_DSN``, dropped afterwards whatever happens),
migrates it, loads the demo catalog (240 products, five sellers), and writes ``--events`` cart
events (1,000,000) spread over the last 30 days: carts created, lines added, changed and removed,
checkouts started and completed, carts abandoned (with a reason) and some of them recovered, as
the service itself writes them, and ``--today-events`` more on today (none). It rolls them up from
scratch, refreshes once with nothing new, then ``--steady-runs`` (7) times writes
``--steady-events`` (5,000) new events of today and refreshes, as the worker does every 5 s in its
steady state, timing each refresh. It then asks ``GET /v1/seller/analytics`` (the busiest seller)
and ``GET /v1/admin/analytics`` for those 30 days through the application in process (routing,
auth, queries, serialisation; no socket), ``--runs`` times each after one warm-up, and prints the
medians against the 500 ms budget.

    .venv/bin/python benchmarks/analytics_load.py
    .venv/bin/python benchmarks/analytics_load.py --events 100000 --runs 3   # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from cartload.stack import throwaway_database
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from aimall_cart import migrate
from aimall_cart.analytics import rollup
from aimall_cart.app import create_app
from aimall_cart.auth import Principal, issue_token
from aimall_cart.carts.journal import EVENT_COLUMNS
from aimall_cart.catalog import service as catalog
from aimall_cart.catalog.demo import demo_products
from aimall_cart.catalog.models import Product, Variant
from aimall_cart.config import Settings
from aimall_cart.db import Database

BUDGET_MS = 500.0
DAYS = 30
console = Console()


@dataclass(frozen=True)
class RollUp:
    """What the roll-up's refreshes took, in seconds."""

    first: float  # every day, from scratch
    idle: float  # the next one, nothing new
    steady: list[float]  # each after ``new_events`` new events of today
    new_events: int
    today: int  # events of today at the end


async def _catalog(url: str, now: datetime) -> list[tuple[str, str, str, int]]:
    """The demo catalog; answers (seller, product, variant, net price) of every variant."""
    database = Database(url)
    admin = Principal(user_id="bench", role="admin")
    async with database.write_session() as session:
        for product_id, data in demo_products(240):
            await catalog.upsert_product(
                session, principal=admin, product_id=product_id, data=data, now=now
            )
        await session.commit()
        rows = await session.execute(
            select(
                Product.seller_id, Product.id, Variant.id, Variant.price - Variant.discount
            ).join(Variant, Variant.product_id == Product.id)
        )
        found = [(s, p, v, int(price)) for s, p, v, price in rows]
    await database.dispose()
    return found


def _cart(
    rng: random.Random, variants: list[tuple[str, str, str, int]], at: datetime
) -> Iterator[tuple[Any, ...]]:
    """One cart's life from ``at``, as events in time order."""
    key = secrets.token_hex(16)

    def event(
        kind: str,
        line: tuple[str, str, str, int] | None,
        qty: int = 0,
        reason: str | None = None,
    ) -> tuple[Any, ...]:
        seller, product, variant, price = line or (None, None, None, 0)
        return (at, at.date(), kind, key, seller, product, variant, qty, qty * price, "USD", reason)

    yield event("cart_created", None)
    lines = rng.sample(variants, rng.randint(1, 4))
    for line in lines:
        at += timedelta(seconds=rng.uniform(5, 300))
        yield event("item_added", line, rng.randint(1, 3))
        if rng.random() < 0.15:
            yield event("quantity_changed", line, 1)
    if rng.random() < 0.1:
        yield event("item_removed", lines.pop(), -1)
    at += timedelta(seconds=rng.uniform(60, 3600))
    fate = rng.random()
    if fate < 0.35:
        for kind in ("checkout_started", "checkout_completed"):
            for line in lines:
                yield event(kind, line, 1)
    elif fate < 0.85:
        reason = rng.choices(["price", "availability", "other"], [3, 1, 6])[0]
        for line in lines:
            yield event("cart_abandoned", line, 1, reason)
        if rng.random() < 0.15:
            at += timedelta(hours=1)
            for kind in ("checkout_completed", "cart_recovered"):
                for line in lines:
                    yield event(kind, line, 1)


def _past(
    rng: random.Random, variants: list[tuple[str, str, str, int]], now: datetime
) -> Iterator[tuple[Any, ...]]:
    """Carts begun at random over the last ``DAYS`` days, without end."""
    while True:
        begun = now - timedelta(seconds=rng.uniform(0, DAYS * 86400 - 7200))
        yield from _cart(rng, variants, begun)


def _today(
    rng: random.Random, variants: list[tuple[str, str, str, int]], now: datetime
) -> Iterator[tuple[Any, ...]]:
    """Carts of today with every event stamped ``now``, so none spills into tomorrow."""
    while True:
        for event in _cart(rng, variants, now):
            yield (now, now.date(), *event[2:])


async def _write(dsn: str, events: Iterator[tuple[Any, ...]], total: int, label: str) -> None:
    """The first ``total`` of ``events`` into the log with COPY, then ANALYZE."""
    connection = await asyncpg.connect(dsn)
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=total < 100_000,
    ) as progress:
        task = progress.add_task(label, total=total)
        try:
            written = 0
            while written < total:
                batch = list(itertools.islice(events, min(20_000, total - written)))
                await connection.copy_records_to_table(
                    "cart_events", records=batch, columns=[*EVENT_COLUMNS]
                )
                written += len(batch)
                progress.update(task, completed=written)
            await connection.execute("ANALYZE cart_events")
        finally:
            await connection.close()


async def _refresh(database: Database) -> float:
    """One refresh as the worker runs it, in seconds."""
    started = time.perf_counter()
    async with database.write_session() as session:
        await rollup.refresh(session, now=datetime.now(UTC))
        await session.commit()
    return time.perf_counter() - started


async def _roll_up(
    url: str, dsn: str, variants: list[tuple[str, str, str, int]], args: argparse.Namespace
) -> RollUp:
    """The first refresh (every day), the next one with nothing new, then ``--steady-runs``
    refreshes each after ``--steady-events`` new events of today."""
    database = Database(url)
    rng = random.Random(args.seed + 1)
    try:
        first = await _refresh(database)
        idle = await _refresh(database)
        steady = []
        for _ in range(args.steady_runs):
            new = _today(rng, variants, datetime.now(UTC))
            await _write(dsn, new, args.steady_events, "new events")
            steady.append(await _refresh(database))
        today = await _count_today(dsn)
    finally:
        await database.dispose()
    return RollUp(first, idle, steady, args.steady_events, today)


async def _count_today(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        found: int = await connection.fetchval(
            "SELECT count(*) FROM cart_events WHERE day = $1", datetime.now(UTC).date()
        )
        return found
    finally:
        await connection.close()


async def _busiest_seller(dsn: str) -> str:
    connection = await asyncpg.connect(dsn)
    try:
        found: str = await connection.fetchval(
            "SELECT seller_id FROM cart_events WHERE seller_id IS NOT NULL"
            " GROUP BY seller_id ORDER BY count(*) DESC LIMIT 1"
        )
        return found
    finally:
        await connection.close()


async def _time_answers(url: str, seller_id: str, runs: int) -> dict[str, list[float]]:
    settings = Settings(database_url=url, env="test", _env_file=None)  # type: ignore[call-arg]
    app = create_app(settings)
    now = datetime.now(UTC)
    admin = issue_token(settings, sub="bench", role="admin", now=now, ttl=timedelta(hours=1))
    seller = issue_token(
        settings, sub="bench-s", role="seller", seller_id=seller_id, now=now, ttl=timedelta(hours=1)
    )
    first = (now - timedelta(days=DAYS - 1)).date().isoformat()
    questions = {
        "seller": ("/v1/seller/analytics", seller),
        "admin": ("/v1/admin/analytics", admin),
    }
    times: dict[str, list[float]] = {name: [] for name in questions}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for n in range(runs + 1):  # the first round warms the pools up and is not counted
            for name, (path, token) in questions.items():
                started = time.perf_counter()
                response = await client.get(
                    path, params={"from": first}, headers={"Authorization": f"Bearer {token}"}
                )
                elapsed = (time.perf_counter() - started) * 1000
                response.raise_for_status()
                if n:
                    times[name].append(elapsed)
    await app.state.database.dispose()
    return times


def _report(events: int, roll_up: RollUp, times: dict[str, list[float]]) -> bool:
    table = Table(title=f"Analytics over {events:,} events, {DAYS} days (PostgreSQL)")
    for column in ("question", "median ms", "min ms", "max ms", "runs", "budget"):
        table.add_column(column, justify="right" if column != "question" else "left")
    fine = True
    for name, found in times.items():
        median = statistics.median(found)
        fine &= median < BUDGET_MS
        verdict = "ok" if median < BUDGET_MS else "OVER"
        table.add_row(
            name,
            f"{median:.1f}",
            f"{min(found):.1f}",
            f"{max(found):.1f}",
            str(len(found)),
            f"{verdict} (< {BUDGET_MS:.0f})",
        )
    console.print(table)
    steady = ", ".join(f"{t * 1000:.0f}" for t in roll_up.steady)
    console.print(
        f"roll-up: all {DAYS} days from scratch {roll_up.first:.2f} s; the next refresh, nothing"
        f" new, {roll_up.idle * 1000:.1f} ms; after {roll_up.new_events:,} new events of today"
        f" (today {roll_up.today:,} events at the end) median"
        f" {statistics.median(roll_up.steady) * 1000:.1f} ms ({steady} ms)"
    )
    return fine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--today-events", type=int, default=0, help="more events on today, before the roll-up"
    )
    parser.add_argument("--steady-events", type=int, default=5_000)
    parser.add_argument("--steady-runs", type=int, default=7)
    args = parser.parse_args()
    console.print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}, load average {os.getloadavg()}"
    )
    with (
        tempfile.TemporaryDirectory() as folder,
        throwaway_database("postgresql", Path(folder)) as database,
    ):
        migrate.upgrade(database.url)
        variants = asyncio.run(_catalog(database.url, datetime.now(UTC)))
        rng, now = random.Random(args.seed), datetime.now(UTC)
        asyncio.run(_write(database.dsn, _past(rng, variants, now), args.events, "events"))
        if args.today_events:
            today = _today(rng, variants, now)
            asyncio.run(_write(database.dsn, today, args.today_events, "today's events"))
        roll_up = asyncio.run(_roll_up(database.url, database.dsn, variants, args))
        seller_id = asyncio.run(_busiest_seller(database.dsn))
        times = asyncio.run(_time_answers(database.url, seller_id, args.runs))
    fine = _report(args.events, roll_up, times)
    console.print(f"load average at the end {os.getloadavg()}")
    raise SystemExit(0 if fine else 1)


if __name__ == "__main__":
    main()
