"""Seller and admin analytics over a million cart events on PostgreSQL.

One run makes a throwaway database (``BENCH_POSTGRES_DSN``, dropped afterwards whatever happens),
migrates it, loads the demo catalog (240 products, five sellers), and writes ``--events`` cart
events (1,000,000) spread over the last 30 days: carts created, lines added, changed and removed,
checkouts started and completed, carts abandoned (with a reason) and some of them recovered, as
the service itself writes them. It then rolls them up once (timed) and asks
``GET /v1/seller/analytics`` (the busiest seller) and ``GET /v1/admin/analytics`` for those 30
days through the application in process (routing, auth, queries, serialisation; no socket),
``--runs`` times each after one warm-up, and prints the medians against the 500 ms budget.

    .venv/bin/python benchmarks/analytics_load.py
    .venv/bin/python benchmarks/analytics_load.py --events 100000 --runs 3   # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Iterator
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
from aimall_cart.catalog import service as catalog
from aimall_cart.catalog.demo import demo_products
from aimall_cart.catalog.models import Product, Variant
from aimall_cart.config import Settings
from aimall_cart.db import Database

BUDGET_MS = 500.0
DAYS = 30
COLUMNS = (
    "occurred_at",
    "day",
    "kind",
    "cart_key",
    "seller_id",
    "product_id",
    "variant_id",
    "quantity_delta",
    "value",
    "currency",
    "reason",
)
console = Console()


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
    rng: random.Random, variants: list[tuple[str, str, str, int]], now: datetime
) -> Iterator[tuple[Any, ...]]:
    """One cart's life, as events in time order."""
    key = secrets.token_hex(16)
    at = now - timedelta(seconds=rng.uniform(0, DAYS * 86400 - 7200))

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


async def _load(dsn: str, variants: list[tuple[str, str, str, int]], total: int, seed: int) -> None:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    connection = await asyncpg.connect(dsn)
    batch: list[tuple[Any, ...]] = []
    written = 0
    columns = [*COLUMNS]
    with Progress(
        TextColumn("events"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("events", total=total)
        try:
            while written < total:
                batch.extend(_cart(rng, variants, now))
                if len(batch) >= 20_000 or written + len(batch) >= total:
                    batch = batch[: total - written]
                    await connection.copy_records_to_table(
                        "cart_events", records=batch, columns=columns
                    )
                    written += len(batch)
                    progress.update(task, completed=written)
                    batch = []
            await connection.execute("ANALYZE cart_events")
        finally:
            await connection.close()


async def _roll_up(url: str) -> tuple[float, float]:
    """The first refresh (every day) and the next one (today only, as the worker's steady
    state), in seconds."""
    database = Database(url)
    taken = []
    for _ in range(2):
        started = time.perf_counter()
        async with database.write_session() as session:
            await rollup.refresh(session, now=datetime.now(UTC))
            await session.commit()
        taken.append(time.perf_counter() - started)
    await database.dispose()
    return taken[0], taken[1]


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


def _report(events: int, roll_up: tuple[float, float], times: dict[str, list[float]]) -> bool:
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
    console.print(
        f"roll-up: all {DAYS} days from scratch {roll_up[0]:.1f} s;"
        f" the worker's next refresh (today only) {roll_up[1]:.1f} s"
    )
    return fine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
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
        asyncio.run(_load(database.dsn, variants, args.events, args.seed))
        roll_up = asyncio.run(_roll_up(database.url))
        seller_id = asyncio.run(_busiest_seller(database.dsn))
        times = asyncio.run(_time_answers(database.url, seller_id, args.runs))
    fine = _report(args.events, roll_up, times)
    console.print(f"load average at the end {os.getloadavg()}")
    raise SystemExit(0 if fine else 1)


if __name__ == "__main__":
    main()
