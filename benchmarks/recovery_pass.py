"""One abandoned-cart recovery pass over many idle carts, on SQLite.

Builds a fresh SQLite database per run: the demo catalog, ``--carts`` member carts of one to three
lines left idle for three hours, every owner consenting (in-app and email), some lines whose price
has since risen and some now out of stock. Then times ``run_pass`` (detection, reasons, policy,
alternatives, codes, messages on two channels, outbox) and prints what it did. Setup is not timed.

    .venv/bin/python benchmarks/recovery_pass.py --carts 10000 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, update

from aimall_cart import migrate
from aimall_cart.auth import Principal
from aimall_cart.carts.models import Cart, CartItem
from aimall_cart.catalog import service as catalog
from aimall_cart.catalog.demo import demo_products
from aimall_cart.catalog.models import Variant
from aimall_cart.config import Settings
from aimall_cart.db import Database
from aimall_cart.inventory.models import Inventory
from aimall_cart.privacy import service as privacy
from aimall_cart.privacy.schemas import PreferencesIn
from aimall_cart.recovery import policy as recovery_policy
from aimall_cart.recovery import service as recovery
from aimall_cart.recovery.engine import Engine


async def _catalog(database: Database, now: datetime) -> list[tuple[str, str, int, int]]:
    admin = Principal(user_id="bench", role="admin")
    async with database.write_session() as session:
        for product_id, data in demo_products(240):
            await catalog.upsert_product(
                session, principal=admin, product_id=product_id, data=data, now=now
            )
        await session.commit()
        rows = await session.execute(
            select(Variant.id, Variant.product_id, Variant.price, Variant.discount).where(
                Variant.status == "active"
            )
        )
        return [(v, p, price, discount) for v, p, price, discount in rows]


async def _carts(
    database: Database, settings: Settings, carts: int, now: datetime, rng: random.Random
) -> None:
    variants = await _catalog(database, now)
    idle = now - timedelta(hours=3)
    async with database.write_session() as session:
        for n in range(carts):
            await privacy.save(
                session,
                keys=settings.keys,
                user_id=f"b-{n}",
                choice=PreferencesIn(
                    marketing_consent=True, email=f"b{n}@mail.example", name=f"Shopper {n}"
                ),
                now=idle,
            )
        cart_rows, item_rows = [], []
        for n in range(carts):
            cart_id = uuid.uuid4()
            cart_rows.append(
                {
                    "id": cart_id,
                    "user_id": f"b-{n}",
                    "status": "active",
                    "currency": "USD",
                    "version": 1,
                    "created_at": idle,
                    "updated_at": idle,
                    "last_activity_at": idle,
                    "activity_mark": idle,
                    "discount_attempts": 0,
                }
            )
            for variant_id, product_id, price, discount in rng.sample(variants, rng.randint(1, 3)):
                # One line in five was added before a price rise.
                snapshot = price - price // 5 if rng.random() < 0.2 else price
                item_rows.append(
                    {
                        "id": uuid.uuid4(),
                        "cart_id": cart_id,
                        "line_key": variant_id,
                        "product_id": product_id,
                        "variant_id": variant_id,
                        "name": variant_id,
                        "thumbnail_url": None,
                        "options": {},
                        "quantity": 1,
                        "unit_price": snapshot,
                        "discount": min(discount, snapshot),
                        "created_at": idle,
                        "updated_at": idle,
                    }
                )
        await session.execute(insert(Cart), cart_rows)
        await session.execute(insert(CartItem), item_rows)
        gone = [v for v, *_ in rng.sample(variants, len(variants) // 20)]
        await session.execute(
            update(Inventory).where(Inventory.variant_id.in_(gone)).values(on_hand=0, reserved=0)
        )
        await recovery_policy.replace(
            session, recovery_policy.RecoveryPolicy(quiet_hours=None), now=idle
        )
        await session.commit()


async def one_run(url: str, carts: int, seed: int) -> tuple[float, recovery.PassResult]:
    settings = Settings(database_url=url, env="test", _env_file=None)  # type: ignore[call-arg]
    database = Database(url)
    now = datetime.now(UTC)
    await _carts(database, settings, carts, now, random.Random(seed))
    engine = Engine.create(seed=seed)
    started = time.perf_counter()
    result = await recovery.run_pass(database, settings, engine, now=now)
    elapsed = time.perf_counter() - started
    await database.dispose()
    return elapsed, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--carts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.python_version()}, {platform.platform()}")
    times = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
            migrate.upgrade(url)
            elapsed, result = asyncio.run(one_run(url, args.carts, seed=run))
        times.append(elapsed)
        print(
            f"run {run + 1}: {elapsed:.1f} s  examined={result.examined} detected={result.detected}"
            f" sent={result.sent} skipped={dict(result.skipped)}"
        )
    print(f"median over {args.runs} runs: {statistics.median(times):.1f} s for {args.carts} carts")


if __name__ == "__main__":
    main()
