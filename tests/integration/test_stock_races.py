"""Stock under concurrency: no oversell, and every unit accounted for at every moment."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial

import httpx
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.config import Settings
from aimall_cart.db import Database, commit
from aimall_cart.inventory import service as inventory
from aimall_cart.inventory.models import Inventory
from tests.builders import admin, bearer, make_product, make_variant, put_product

SHOPPERS = 200
UNITS = 50


async def test_two_hundred_shoppers_racing_for_fifty_units_make_exactly_fifty_orders(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await put_product(
        client, settings, "drop", make_product(make_variant("drop-1", stock=SHOPPERS))
    )
    shoppers = [bearer(settings, f"shopper-{n}") for n in range(SHOPPERS)]
    for shopper in shoppers:
        added = await client.post("/v1/cart/items", json={"product_id": "drop"}, headers=shopper)
        assert added.status_code == 201, added.text
    restock = await client.patch(
        "/v1/catalog/variants/drop-1", json={"stock": UNITS}, headers=admin(settings)
    )
    assert restock.status_code == 200

    async def buy(shopper: dict[str, str]) -> int:
        started = await client.post("/v1/cart/checkout", headers=shopper)
        if started.status_code != 201:
            assert started.status_code in (409, 503), started.text
            return 0
        placed = await client.post("/v1/cart/checkout/complete", headers=shopper)
        assert placed.status_code in (201, 503), placed.text
        return int(placed.status_code == 201)

    orders = sum(await asyncio.gather(*(buy(s) for s in shoppers)))
    assert orders == UNITS
    product = (await client.get("/v1/catalog/products/drop")).json()["variants"][0]
    assert (product["stock"], product["available"]) == (0, 0)
    async with Database(settings.database_url).read_session() as session:
        sold = await session.scalar(
            text("SELECT sum(quantity) FROM order_lines WHERE variant_id = 'drop-1'")
        )
        placed = await session.scalar(text("SELECT count(*) FROM orders"))
    assert (sold, placed) == (UNITS, UNITS)


VARIANTS = ("v-a", "v-b", "v-c")
INITIAL = 12
TASKS = 6
OPERATIONS_PER_TASK = 60
_SNAPSHOT = text(
    """
    SELECT i.variant_id, i.on_hand, i.reserved,
      (SELECT coalesce(sum(r.quantity), 0) FROM reservations r
        WHERE r.variant_id = i.variant_id AND r.status = 'held'),
      (SELECT coalesce(sum(r.quantity), 0) FROM reservations r
        WHERE r.variant_id = i.variant_id AND r.status = 'committed')
    FROM inventory i ORDER BY i.variant_id
    """
)


class Ledger:
    """Restocks the test knows of: confirmed after commit, in flight while running."""

    def __init__(self) -> None:
        self.confirmed = dict.fromkeys(VARIANTS, 0)
        self.in_flight = dict.fromkeys(VARIANTS, 0)
        self.holders: list[uuid.UUID] = []
        self.checks = 0


class Abort(Exception):
    """Raised inside a transaction to roll it back after a refused reservation."""


async def _reserve(
    session: AsyncSession, ledger: Ledger, rng: random.Random, now: datetime
) -> None:
    holder = uuid.uuid4()
    wanted = {v: rng.randint(1, 4) for v in rng.sample(VARIANTS, rng.randint(1, 3))}
    ttl = timedelta(seconds=rng.choice((-1, 3, 30)))  # some lapse before anyone acts on them

    async def hold() -> None:
        expires_at = now + ttl
        if await inventory.reserve(
            session, holder_id=holder, quantities=wanted, now=now, expires_at=expires_at
        ):
            raise Abort

    try:
        await commit(session, hold)
    except Abort:
        return
    ledger.holders.append(holder)


async def _restock(session: AsyncSession, ledger: Ledger, variant: str, units: int) -> None:
    """Receive units: one statement on the inventory row, as every stock change is."""
    ledger.in_flight[variant] += units

    async def add() -> None:
        await session.execute(
            update(Inventory)
            .where(Inventory.variant_id == variant)
            .values(on_hand=Inventory.on_hand + units)
        )

    try:
        await commit(session, add)
        ledger.confirmed[variant] += units
    finally:
        ledger.in_flight[variant] -= units


async def _operate(database: Database, ledger: Ledger, rng: random.Random, start: datetime) -> None:
    """Random reserve / complete / cancel / expire / restock, each in its own transaction."""
    for step in range(OPERATIONS_PER_TASK):
        now = start + timedelta(seconds=step)
        roll = rng.random()
        holder = rng.choice(ledger.holders) if ledger.holders else None
        async with database.write_session() as session:
            if roll < 0.4 or holder is None:
                await _reserve(session, ledger, rng, now)
            elif roll < 0.6:
                await commit(
                    session, partial(inventory.commit_holds, session, holder_id=holder, now=now)
                )
            elif roll < 0.75:
                await commit(session, partial(inventory.release_holds, session, holder_id=holder))
            elif roll < 0.9:
                later = now + timedelta(seconds=5)
                await commit(
                    session,
                    partial(inventory.release_expired, session, now=later, skip_locked=True),
                )
            else:
                await _restock(session, ledger, rng.choice(VARIANTS), rng.randint(1, 3))
        await asyncio.sleep(0)


async def _check(database: Database, ledger: Ledger, stop: asyncio.Event) -> None:
    while not stop.is_set():
        lower = dict(ledger.confirmed)
        async with database.read_session() as session:
            rows = (await session.execute(_SNAPSHOT)).all()
        upper = {v: ledger.confirmed[v] + ledger.in_flight[v] for v in VARIANTS}
        for variant, on_hand, reserved, held, sold in rows:
            assert 0 <= reserved <= on_hand, (variant, on_hand, reserved)
            assert reserved == held, (variant, reserved, held)
            accounted = on_hand + sold - INITIAL
            assert lower[variant] <= accounted <= upper[variant], (variant, on_hand, sold)
        ledger.checks += 1
        await asyncio.sleep(0.005)


async def test_units_on_hand_plus_sold_are_conserved_under_concurrent_stock_operations(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    variants = [make_variant(v, stock=INITIAL, size=v) for v in VARIANTS]
    await put_product(client, settings, "jepsen", make_product(*variants))
    database = Database(settings.database_url)
    ledger, stop = Ledger(), asyncio.Event()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        checker = asyncio.create_task(_check(database, ledger, stop))
        await asyncio.gather(
            *(_operate(database, ledger, random.Random(seed), start) for seed in range(TASKS))
        )
        stop.set()
        await checker
        stop.clear()
        await _check_once(database, ledger)
    finally:
        await database.dispose()
    assert ledger.checks > 5
    assert len(ledger.holders) > 10


async def _check_once(database: Database, ledger: Ledger) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(_check(database, ledger, stop))
    await asyncio.sleep(0.01)
    stop.set()
    await task
